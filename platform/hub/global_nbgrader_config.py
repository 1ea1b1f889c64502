"""System-wide nbgrader settings for a hub hosting simtlab courses (example): ``/etc/jupyter/nbgrader_config.py``.

The exchange is where released assignments and submissions travel between accounts; it must exist and be
writable by everyone (``mkdir -p /srv/nbgrader/exchange && chmod ugo+rwx /srv/nbgrader/exchange``). With
``path_includes_course`` several courses share one exchange.
"""

c = get_config()  # noqa: F821  (provided by nbgrader / Jupyter when it loads this file)

c.Exchange.root = "/srv/nbgrader/exchange"
c.Exchange.path_includes_course = True
