// hookwire dashboard: the only script. Forms marked data-confirm ask before they post.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
