#!/usr/bin/env bash
# The twin's GPU checks and figures in one go, for a machine with a CUDA GPU and CuPy:
# the card, the tests marked gpu (with the shadow and solar tests, all on that machine), then
# bench/twin_solar.py on the GPU (fused kernel; row-by-row array code; 4 km² whole and by tiles;
# against the CPU).
# Needs only NumPy, pandas, pvlib and CuPy (the twin's engines import without the web stack), so
# pytest runs with --noconftest (the suite's conftest needs the whole application; so does the
# test of the twin's public surface, left out here). Logs go to
# $OUT (default /tmp/twin-gpu). Run from the repository root: bash bench/twin_gpu.sh
set -uo pipefail
out=${OUT:-/tmp/twin-gpu}
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1 | tee "$out/gpu.txt"
"$py" -c "import cupy, numpy; print('CuPy', cupy.__version__, 'CUDA runtime', cupy.cuda.runtime.runtimeGetVersion(), 'NumPy', numpy.__version__)" 2>&1 | tee -a "$out/gpu.txt"
nproc | sed 's/^/CPU cores: /' | tee -a "$out/gpu.txt"
status=0
timeout 300 "$py" -m pytest -q -p no:cacheprovider --noconftest tests/twin/test_twin_gpu.py \
    tests/twin/test_twin_shadow.py tests/twin/test_twin_solar.py tests/twin/test_twin_solar_tiles.py \
    -k "not public_surface" 2>&1 | tee "$out/pytest.log" | tail -15
[ "${PIPESTATUS[0]}" = 0 ] || status=1
for args in "--gpu" "--gpu" "--gpu --array-code" "--gpu --size-m 2000" "--gpu --size-m 2000 --tile-m 1000" \
        "--gpu --compare-cpu"; do
    echo "== bench/twin_solar.py $args" | tee -a "$out/bench.log"
    timeout 240 "$py" bench/twin_solar.py $args 2>&1 | tee -a "$out/bench.log" || status=1
done
exit $status
