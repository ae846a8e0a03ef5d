#!/bin/sh
# Starts one coordinator of the StatefulSet: `testudo coordinator` with its
# id (the pod name), its stable DNS name as the address the others dial, and
# either the founding --peers or --join.
#
# A pod founds the cluster (--peers) only when it is one of the first
# $FOUNDING_MEMBERS ordinals and either already holds the cluster's data
# (a restart) or the cluster is being created ($CLUSTER_STATE = new). Any
# other pod starts empty with --join and waits for
# `testudo cluster add-member` (deploy/README.md). Set CLUSTER_STATE to
# `existing` once the cluster is up: a founding pod that lost its volume then
# comes back as a joiner, never as an empty voter that forgot its vote
# (docs/operations.md, "Damaged or lost data").
#
# Environment (set by the StatefulSet): POD_NAME, POD_NAMESPACE,
# PEER_SERVICE, CLUSTER_DOMAIN, FOUNDING_MEMBERS, CLUSTER_STATE, GRPC_PORT,
# TESTUDO_DATA_DIR. Extra arguments are passed on to `testudo coordinator`.
set -eu

fail() {
  echo "coordinator-start: $*" >&2
  exit 2
}

case "$FOUNDING_MEMBERS" in
  '' | *[!0-9]*) fail "FOUNDING_MEMBERS must be a positive integer, got '$FOUNDING_MEMBERS'" ;;
esac
[ "$FOUNDING_MEMBERS" -ge 1 ] || fail "FOUNDING_MEMBERS must be at least 1"
case "$CLUSTER_STATE" in
  new | existing) ;;
  *) fail "CLUSTER_STATE must be new or existing, got '$CLUSTER_STATE'" ;;
esac

set_name="${POD_NAME%-*}"
ordinal="${POD_NAME##*-}"
case "$ordinal" in
  '' | *[!0-9]*) fail "POD_NAME must end in -<ordinal> (a StatefulSet pod), got '$POD_NAME'" ;;
esac

address_of() {
  echo "$set_name-$1.$PEER_SERVICE.$POD_NAMESPACE.svc.$CLUSTER_DOMAIN:$GRPC_PORT"
}

self="$(address_of "$ordinal")"
peers=""
join=""
i=0
while [ "$i" -lt "$FOUNDING_MEMBERS" ]; do
  address="$(address_of "$i")"
  peers="${peers:+$peers,}$set_name-$i=$address"
  [ "$address" = "$self" ] || join="${join:+$join,}$address"
  i=$((i + 1))
done

if [ "$ordinal" -lt "$FOUNDING_MEMBERS" ] && { [ -f "$TESTUDO_DATA_DIR/cluster.json" ] || [ "$CLUSTER_STATE" = new ]; }; then
  exec testudo coordinator --id "$POD_NAME" --advertise "$self" --peers "$peers" "$@"
fi
exec testudo coordinator --id "$POD_NAME" --advertise "$self" --join "$join" "$@"
