# fer-graph set-up and jobs. `make main` runs the main job on real data; `make test` runs the tests.
# Both create .venv and install everything from this repository's files on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Data root: the folder holding ck_lands/, ck48/, fer2013/ (CI and this machine: ../shared/data).
FER_GRAPH_DATA ?= $(if $(wildcard ../shared/data),../shared/data,data)
export FER_GRAPH_DATA
FER_GRAPH_FACE_LANDMARKER ?= $(if $(wildcard ../shared/models/face_landmarker.task),../shared/models/face_landmarker.task,)
export FER_GRAPH_FACE_LANDMARKER
OUT ?= data/processed

.PHONY: install main test clean

$(BIN)/fer-graph: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# the CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/fer-graph

RUNS ?= runs

# Main job: build every graph dataset from the real data; on CK+ lands (subject-independent 10-fold) train the
# GAT, the mask-augmented GAT and the SVM / logistic-regression baselines, sweep them all over the occlusion
# conditions, and write the report to runs/ck_lands/ (occlusion.md tables, sweep/ CSV, JSON and plots).
main: install
	$(BIN)/fer-graph build-graphs --source ck-lands --root ck_lands/CK+ --out $(OUT)/ck_lands
	$(BIN)/fer-graph build-graphs --source mediapipe --root ck48 --out $(OUT)/ck48
	$(BIN)/fer-graph build-graphs --source mediapipe --root fer2013 --out $(OUT)/fer2013
	$(BIN)/fer-graph occlusion-study --data $(OUT)/ck_lands --out $(RUNS)/ck_lands \
		--models gat,gat_mask,svm,logreg --sensitivity --workers 2

test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
