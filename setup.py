"""The package list for setuptools (the rest of the build configuration is in pyproject.toml): every folder with an
``__init__.py`` under motionbench/, methods/ and conf/, under its installed name (pyproject.toml's package-dir
installs methods/ as motionbench.methods and conf/ as motionbench.conf). A new method folder needs no entry here."""
from setuptools import find_packages, setup


def packages(folder: str, name: str) -> list:
    return [name] + [f"{name}.{sub}" for sub in find_packages(folder)]


setup(packages=packages("motionbench", "motionbench") + packages("methods", "motionbench.methods")
      + packages("conf", "motionbench.conf"))
