"""One import namespace, `linli`, over the folders the design card lays out.

`shared/` installs as `linli.shared`, `services/` as `linli.services` and `linli/` (the
launcher) as `linli`, so nothing named `shared` or `services` lands in site-packages.
Everything else is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

ROOTS = {"linli": "linli", "linli.shared": "shared", "linli.services": "services"}


def packages() -> list[str]:
    found = []
    for name, folder in ROOTS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_namespace_packages(folder, exclude=["*__pycache__*"])]
    return found


setup(packages=packages(), package_dir=ROOTS)
