# shellcheck shell=bash
# Common environment for congvu-mail scripts: source it, don't run it.
# Points podman at the project's own configuration rather than the host's /etc.
CONGVU_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CONGVU_ROOT
export CONTAINERS_CONF="${CONGVU_ROOT}/containers/containers.conf"
export CONGVU_CACHE="${CONGVU_CACHE:-${CONGVU_ROOT}/.cache}"
export CONGVU_IMAGE_REPO="localhost/congvu-debian12"
export ANSIBLE_CONFIG="${CONGVU_ROOT}/ansible.cfg"
if [ -d "${CONGVU_ROOT}/.venv/bin" ]; then
  export PATH="${CONGVU_ROOT}/.venv/bin:${PATH}"
  export VIRTUAL_ENV="${CONGVU_ROOT}/.venv"
fi

congvu_die() { printf 'congvu: error: %s\n' "$*" >&2; exit 1; }
congvu_info() { printf 'congvu: %s\n' "$*" >&2; }

# The image tag is a hash of its recipe and the build script: changing either rebuilds it.
congvu_image_tag() {
  cat "${CONGVU_ROOT}/containers/Containerfile.recipe" "${CONGVU_ROOT}/scripts/build-image" \
    | sha256sum | cut -c1-12
}
congvu_image() { printf '%s:%s\n' "${CONGVU_IMAGE_REPO}" "$(congvu_image_tag)"; }
