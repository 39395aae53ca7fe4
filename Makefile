# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

# Production-like variables for `check --deploy` (throwaway values, never used to run anything).
DEPLOY_ENV := DJANGO_SECRET_KEY=deploy-check-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ \
	PII_ENCRYPTION_KEYS=k1:MDEyMzQ1Njc4OWFiY2RlZg== \
	PII_HASH_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= \
	DATABASE_URL=postgres://yikatong@db.invalid:5432/yikatong \
	CELERY_BROKER_URL=redis://redis.invalid:6379/0 CACHE_URL=redis://redis.invalid:6379/1 \
	DJANGO_ALLOWED_HOSTS=yikatong.example.gov.cn

.PHONY: run test venv dev-venv lint migrations-check deploy-check browser pytest worker clean

$(VENV)/.runtime: requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

venv: $(VENV)/.runtime
dev-venv: $(VENV)/.dev

# The demo bank that `make run` plays with bank_simulator. Its October batch is paid within seconds; the other banks'
# batches keep waiting for whoever tries the bank API by hand.
DEMO_BANK ?= rcb-zz
DEMO_BANK_NAME ?= 郑州农村商业银行二七支行

# The simulator gets a fresh token through its environment (never argv, which `ps` shows), waits for the server,
# and is stopped with it: the EXIT trap ends it however the server ends (Ctrl-C reaches make, the shell and
# runserver, but a background job of a script ignores SIGINT); if it ever outlives them, it stops by itself once
# the server has refused it three times in a row.
run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py seed_demo
	@echo ""
	@echo "一卡通 is starting on http://$(HOST):$(PORT)/  — admin: http://$(HOST):$(PORT)/admin/  API docs: http://$(HOST):$(PORT)/api/docs/"
	@echo "Sign in with any login above and the demo password. Stop with Ctrl-C."
	@token=$$($(PY) manage.py bank_token $(DEMO_BANK) --rotate --label "make run: bank_simulator" | tail -n 1); \
	test -n "$$token" || exit 1; \
	echo "A simulated bank, $(DEMO_BANK_NAME) ($(DEMO_BANK)), is paying its batches: release a payout as caizheng and watch its batch go acknowledged, then closed."; \
	YIKATONG_BANK_TOKEN="$$token" $(PY) manage.py bank_simulator --url http://$(HOST):$(PORT) --wait-for-server 120 & \
	sim=$$!; trap 'kill $$sim 2>/dev/null; wait $$sim 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

lint: dev-venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

migrations-check: dev-venv
	$(PY) manage.py makemigrations --check --dry-run

deploy-check: dev-venv
	env $(DEPLOY_ENV) $(PY) manage.py check --deploy --fail-level WARNING

# The browser tests (tests/browser/) drive Debian's Chromium through Playwright; a CJK font makes their screenshots
# readable. Installed from Debian's packages when missing (as root, or with sudo); Playwright never downloads one.
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) && fc-list :lang=zh 2>/dev/null | grep -q . || { \
		echo "Installing Debian's chromium and fonts-noto-cjk for the browser tests"; \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get install -y -q chromium fonts-noto-cjk >/dev/null || \
		{ $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium fonts-noto-cjk >/dev/null; }; }
	@test -x $(CHROMIUM) || { echo "$(CHROMIUM) is missing: the browser tests cannot run"; exit 1; }

pytest: dev-venv browser
	env $$($(PY) -m yikatong.services_probe) $(PY) -m pytest $(PYTEST_ARGS)

test: lint migrations-check deploy-check pytest

# A Celery worker against CELERY_BROKER_URL (for production-like runs by hand).
worker: venv
	$(VENV)/bin/celery -A yikatong worker --loglevel INFO

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
