# Sourced by bench/run and bench/scale: makes (once) the throwaway virtualenv
# the harnesses run in, outside the repository, with Celery (bench/run's
# contender) and the redis client, and sets $venv to it. Delete it to start
# over.
venv="${XDG_CACHE_HOME:-$HOME/.cache}/paqueteria/bench-venv"
if [[ ! -x "$venv/bin/celery" ]] || ! "$venv/bin/python" -c 'import celery, redis' 2>/dev/null; then
  echo "bench: creating the harness venv in $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "celery[redis]==5.*" "redis"
fi
