#!/usr/bin/env bash
# Creates .local/dev.env once for `make run`: a random web secret key (48 characters;
# the app refuses fewer than 32) and admin password (printed), unless they are already
# set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .local
if [ ! -f .local/dev.env ]; then
  umask 077
  {
    echo "PP_WEB_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
    echo "PP_ADMIN_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')"
  } > .local/dev.env
fi
# The web app refuses session keys under 32 characters: replace a missing or short one.
key="$(grep '^PP_WEB_SECRET_KEY=' .local/dev.env | cut -d= -f2- || true)"
if [ "${#key}" -lt 32 ]; then
  sed -i '/^PP_WEB_SECRET_KEY=/d' .local/dev.env
  echo "PP_WEB_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" >> .local/dev.env
fi
[ -n "${PP_ADMIN_PASSWORD:-}" ] && sed -i "s|^PP_ADMIN_PASSWORD=.*|PP_ADMIN_PASSWORD=${PP_ADMIN_PASSWORD}|" .local/dev.env
echo "  login    ${PP_ADMIN_USERNAME:-admin} / $(grep '^PP_ADMIN_PASSWORD=' .local/dev.env | cut -d= -f2-)   (from .local/dev.env)"
echo "           (set when the first user is created; change it with: persona-pipeline users add ${PP_ADMIN_USERNAME:-admin} --role admin)"
