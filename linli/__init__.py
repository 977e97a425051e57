"""The launcher: the `linli` command and the embedded all-in-one mode. Not part of `shared`."""
