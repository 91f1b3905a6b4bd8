"""The ``hookwire`` command's subcommands, one module per group; :mod:`hookwire.cli` puts them
together. Every flag that stands for a setting names its ``HOOKWIRE_*`` variable in
``--help``, and flags win over the environment."""
