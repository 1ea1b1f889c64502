"""JupyterHub for a simtlab course (example): students get JupyterLab with the 'simtlab' kernel; instructors get
nbgrader's formgrader as a hub service running as the course's grader account.

Copy to /etc/jupyterhub/jupyterhub_config.py and adapt the marked values (users, course id, paths, limits).
Everything runs in one Python environment with ``simtlab[jupyter]``, ``nbgrader>=0.9.6,<0.10`` and
``jupyterhub`` installed, the kernelspec installed with ``simtlab kernel install --sys-prefix`` and
nbgrader's extensions enabled (see README.md in this folder). Classes are named by string, so this file loads
without importing JupyterHub (tests/platform checks it).
"""

import os

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

COURSE = os.environ.get("SIMTLAB_COURSE_ID", "simtlab")              # the course id of labs/nbgrader_config.py
GRADER = f"grader-{COURSE}"                                           # Unix account that owns the course files
INSTRUCTORS = ["instructor1"]                                         # adapt
STUDENTS = ["student1", "student2"]                                   # adapt (or let an authenticator decide)

# -- the hub ------------------------------------------------------------------------------------------
c.JupyterHub.bind_url = "http://:8000"
c.JupyterHub.authenticator_class = "jupyterhub.auth.PAMAuthenticator"   # adapt: OAuth / LTI for a real course
c.Authenticator.allowed_users = set(INSTRUCTORS + STUDENTS)
c.Authenticator.admin_users = set(INSTRUCTORS)

# -- every user's server: JupyterLab, the simtlab kernel, resource limits -----------------------------
c.Spawner.default_url = "/lab"
c.Spawner.cmd = ["jupyterhub-singleuser"]
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {
    # widgets render live in JupyterLab; executed or exported notebooks keep the static renderings
    "SIMTLAB_WIDGETS": "auto",
}
c.Spawner.mem_limit = "4G"           # honoured by spawners that enforce limits (SystemdSpawner, DockerSpawner, ...)
c.Spawner.cpu_limit = 2.0
c.Spawner.http_timeout = 120         # a first start imports numpy and numba: give it time
c.Spawner.start_timeout = 120

# -- nbgrader: course groups, the formgrader service, access roles -------------------------------------
c.JupyterHub.load_groups = {
    f"formgrade-{COURSE}": {"users": INSTRUCTORS},                   # may open the formgrader of the course
    f"nbgrader-{COURSE}": {"users": STUDENTS},                       # students enrolled in the course
}
c.JupyterHub.load_roles = [
    {"name": f"formgrade-{COURSE}", "groups": [f"formgrade-{COURSE}"],
     "scopes": [f"access:services!service={COURSE}"]},
    {"name": "server", "scopes": ["inherit"]},                      # users' servers may list their groups
]
c.JupyterHub.services = [
    {
        "name": COURSE,
        "url": "http://127.0.0.1:9999",
        "command": ["jupyterhub-singleuser", "--port=9999"],
        "user": GRADER,
        "cwd": f"/home/{GRADER}/labs",                               # the course directory (nbgrader_config.py)
        "environment": {"JUPYTERHUB_DEFAULT_URL": "/lab"},
        "api_token": os.environ.get("SIMTLAB_COURSE_TOKEN", ""),     # set: `openssl rand -hex 32`
        "oauth_no_confirm": True,
    },
]
