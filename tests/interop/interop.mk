# Interop tests: espcap against Scapy 2.5's ESP (tests/interop/*.py).
# Included by the top-level Makefile; uses B and PYTHON3 from there.

INTEROP_PY := $(wildcard tests/interop/*.py)

.PHONY: check-interop
check-interop: $(B)/espcap $(INTEROP_PY)
	cd tests/interop && ESPCAP=$(abspath $(B)/espcap) \
	    PYTHONDONTWRITEBYTECODE=1 \
	    $(PYTHON3) -m pytest -q -p no:cacheprovider -rsx test_*.py
