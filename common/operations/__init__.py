"""Running the system: the `persona-pipeline` command (``cli``) and the health of its dependencies
(``health``). The top layer of ``common``: it may import any other part of it."""
