"""Packaging for minfo: every setting is read from settings.ini (nbdev's single source), without pkg_resources."""
from configparser import ConfigParser
from pathlib import Path

import setuptools

cfg = ConfigParser(delimiters=["="])
cfg.read(Path(__file__).parent / "settings.ini", encoding="utf-8")
cfg = cfg["DEFAULT"]

licenses = {"apache2": "Apache-2.0"}  # settings.ini name -> SPDX expression (license classifiers are deprecated)
statuses = ["1 - Planning", "2 - Pre-Alpha", "3 - Alpha", "4 - Beta", "5 - Production/Stable", "6 - Mature", "7 - Inactive"]
lic = licenses[cfg["license"]]
readme = Path(__file__).parent / "README.md"
reqs = lambda key: cfg.get(key, "").split()
extras = {name: reqs(f"{name}_requirements") for name in ("vision", "plots", "book", "ray", "eval", "flow")}
extras["all"] = sorted({r for rs in extras.values() for r in rs})
extras["dev"] = sorted(set(extras["all"]) | set(reqs("dev_requirements")))

setuptools.setup(
    name=cfg["dist_name"],  # the distribution; the import package is lib_path (`minfo`)
    version=cfg["version"],
    description=cfg["description"],
    long_description=readme.read_text(encoding="utf-8") if readme.exists() else cfg["description"],
    long_description_content_type="text/markdown",
    author=cfg["author"],
    license_expression=lic,
    license_files=["LICENSE"],
    keywords=cfg["keywords"].split(),
    classifiers=[
        "Development Status :: " + statuses[int(cfg["status"]) - 1],  # settings.ini's status is 1-based
        "Intended Audience :: " + cfg["audience"].title(),
        "Natural Language :: " + cfg["language"].title(),
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: " + cfg["min_python"],  # the version that is tested
    ],
    packages=setuptools.find_packages(include=[cfg["lib_path"], cfg["lib_path"] + ".*"]),
    include_package_data=False,
    python_requires=">=" + cfg["min_python"],
    install_requires=reqs("requirements"),
    extras_require=extras,
    entry_points={"console_scripts": reqs("console_scripts")},
    zip_safe=False,
)
