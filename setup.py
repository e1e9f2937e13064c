"""Installation script of mxfair."""
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _version():
    with open(os.path.join(HERE, "mxfair", "__init__.py"), encoding="utf-8") as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


def _long_description():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        return f.read()


setup(
    name="mxfair",
    version=_version(),
    description="Bias mitigation during training for Apache MXNet Gluon",
    long_description=_long_description(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=find_packages(include=["mxfair", "mxfair.*"]),
    package_data={"mxfair.datasets": ["_data/*.gz"]},
    python_requires=">=3.8,<3.12",
    install_requires=[
        "mxnet==1.9.1",
        # MXNet 1.9.1 reads numpy.bool at import, which numpy 1.24 removed.
        "numpy>=1.17,<1.24",
        "scikit-learn",
        # ThresholdOptimizer solves equalized odds with a tolerance as a linear program.
        "scipy",
        "pandas",
        "tqdm",
    ],
    entry_points={"console_scripts": ["mxfair=mxfair.__main__:main"]},
    extras_require={
        "plot": ["matplotlib"],
        "test": [
            "pytest",
            # The test oracle; later fairlearn releases need numpy >= 1.24.
            "fairlearn==0.9.0",
            "hypothesis",
            "nbclient",
            "nbformat",
            "ipykernel",
            "matplotlib",
            "ruff",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "License :: OSI Approved :: Apache Software License",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
