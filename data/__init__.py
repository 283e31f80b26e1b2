"""The checkout's small data, installed as the package data ``equitools._data`` (see README.md;
read it through ``equitools.paths.EMBEDDED_DATA``)."""
