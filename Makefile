# Two commands: `make run` and `make test` (README.md).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test migrate bench clean

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py check_models
	HOST=$(HOST) PORT=$(PORT) bash scripts/run.sh

test: install
	bash scripts/test.sh

bench: install
	$(BIN)/python manage.py check_models
	$(BIN)/python bench/checkin.py
	$(BIN)/python bench/detection.py
	$(BIN)/python bench/train.py
	$(BIN)/python bench/ranking.py
	$(BIN)/python bench/search.py --sizes 10000,100000

clean:
	rm -rf var/broker var/staticfiles
