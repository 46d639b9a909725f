"""The one place the version is written: fastbp.__version__ and the build (pyproject.toml) read it here."""

__version__ = "0.1.0"
