#!/usr/bin/env bash
# Creates .local/dev.env once for `make run`: a random web secret key and admin
# password (printed), unless they are already set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .local
if [ ! -f .local/dev.env ]; then
  umask 077
  {
    echo "PP_WEB_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    echo "PP_ADMIN_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')"
  } > .local/dev.env
fi
[ -n "${PP_ADMIN_PASSWORD:-}" ] && sed -i "s|^PP_ADMIN_PASSWORD=.*|PP_ADMIN_PASSWORD=${PP_ADMIN_PASSWORD}|" .local/dev.env
echo "  login    ${PP_ADMIN_USERNAME:-admin} / $(grep '^PP_ADMIN_PASSWORD=' .local/dev.env | cut -d= -f2-)   (from .local/dev.env)"
