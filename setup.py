"""What pyproject.toml cannot say: which packages ship, and resources/ shipping under a package name.

The top-level `resources/` folder (bundled models, single-file configs, icons, styles) is
installed as the package `latent_studio_resources`, so a wheel or `pip install .` finds it
(engine/paths.py); a checkout reads the folder where it is. Not shipped: the toy model's
training and export code (`engine.toy.training`), which builds resources/models in a checkout,
and the README's pictures (resources/docs). Everything else is in pyproject.toml.
"""

from setuptools import find_packages, setup

RESOURCES = "latent_studio_resources"
CHECKOUT_ONLY = ["engine.toy.training", "engine.toy.training.*"]

setup(
    packages=find_packages(include=["engine", "engine.*", "studio", "studio.*"], exclude=CHECKOUT_ONLY)
    + [RESOURCES],
    package_dir={RESOURCES: "resources"},
    package_data={"engine": ["py.typed"], RESOURCES: ["**/*"]},
    exclude_package_data={RESOURCES: ["docs/*"]},
)
