"""Settings split by purpose (cookiecutter-django): ``base`` holds everything
shared; ``local`` (``make run``), ``production`` (docker-compose) and ``test``
adjust it. Every deployment knob is an environment variable."""
