#!/bin/sh
# Writes the admin user's settings from the environment, then runs the broker.
set -eu
: "${RABBITMQ_ADMIN_PASSWORD:?RABBITMQ_ADMIN_PASSWORD must be set}"
mkdir -p /var/lib/rabbitmq/conf.d
umask 077
{
  cat /etc/rabbitmq/rabbitmq.conf
  printf 'default_user = %s\ndefault_pass = %s\n' "${RABBITMQ_ADMIN_USER:-admin}" "$RABBITMQ_ADMIN_PASSWORD"
  printf 'default_vhost = %s\n' "${RABBITMQ_DEFAULT_VHOST:-lethe}"
} > /var/lib/rabbitmq/conf.d/10-lethe.conf
exec /usr/lib/rabbitmq/bin/rabbitmq-server
