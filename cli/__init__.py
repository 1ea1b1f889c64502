"""The ``simtlab`` command line (entry point `simtlab.cli.main:main`).

Each subcommand lives in its own module and is imported only when it runs, so that
``simtlab chips`` never imports Jupyter and ``simtlab kernel install`` never imports the engine.
"""
