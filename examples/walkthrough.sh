#!/usr/bin/env bash
# Adobe's "connect to a streaming destination" tutorial, step by step with curl,
# against flowservice-eventhubs. Run `npm start` first, then:
#
#   CLIENT_SECRET=<from the start-up banner> bash examples/walkthrough.sh
#
# and watch the exports: npm run hub:tail -- --namespace 127.0.0.1:5673 --hub profiles
set -euo pipefail

BASE=${BASE:-http://localhost:8080}
CLIENT_ID=${CLIENT_ID:-flowservice-dev-client}
CLIENT_SECRET=${CLIENT_SECRET:?set CLIENT_SECRET (printed when the service starts)}
ORG_ID=${ORG_ID:-DEVORG0000000000000000000@AdobeOrg}
SANDBOX=${SANDBOX:-prod}
EH_NAMESPACE=${EH_NAMESPACE:-127.0.0.1:5673}
EH_KEY_NAME=${EH_KEY_NAME:-RootManageSharedAccessKey}
EH_KEY=${EH_KEY:-EmulatorDevelopmentKeyForLocalUseOnly0000000=}
EVENT_HUB=${EVENT_HUB:-profiles}
FS="$BASE/data/foundation/flowservice"

# Reads one field of the JSON on stdin (node is there: it runs the service).
field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=process.argv[1].split(".").reduce((o,k)=>o?.[k],JSON.parse(s));if(v===undefined){console.error("missing "+process.argv[1]+" in "+s);process.exit(1)}console.log(typeof v==="string"?v:JSON.stringify(v))})' "$1"; }

echo "1. Token"
TOKEN=$(curl -sS -X POST "$BASE/ims/token/v3" -d grant_type=client_credentials \
  -d "client_id=$CLIENT_ID" -d "client_secret=$CLIENT_SECRET" | field access_token)
H=(-H "Authorization: Bearer $TOKEN" -H "x-api-key: $CLIENT_ID" -H "x-gw-ims-org-id: $ORG_ID"
   -H "x-sandbox-name: $SANDBOX" -H "Content-Type: application/json")
call() { curl -sS --fail-with-body "${H[@]}" "$@"; }

echo "2. A segment: gold loyalty members"
SEGMENT_ID=$(call -X POST "$BASE/data/core/ups/segment/definitions" -d '{
  "name": "Gold members '"$RANDOM$RANDOM"'",
  "profileInstanceId": "ups",
  "expression": {"type": "PQL", "format": "pql/text", "value": "loyalty.tier = \"gold\""},
  "schema": {"name": "_xdm.context.profile"},
  "evaluationInfo": {"continuous": {"enabled": true}}
}' | field id)
echo "   segment $SEGMENT_ID"

echo "3. A profile that qualifies"
call -X POST "$BASE/data/core/ups/ingest/profiles" -d '{"profiles": [{
  "identityMap": {"email": [{"id": "jane@example.com", "primary": true}]},
  "person": {"name": {"firstName": "Jane", "lastName": "Doe"}},
  "personalEmail": {"address": "jane@example.com"},
  "loyalty": {"tier": "gold"}
}]}' >/dev/null

echo "4. Base connection to the profile store, and a source connection"
UPS_BASE=$(call -X POST "$FS/connections" -d '{
  "name": "Base connection to Experience Platform",
  "connectionSpec": {"id": "8a9c3494-9708-43d7-ae3f-cda01e5030e1", "version": "1.0"}
}' | field id)
SOURCE=$(call -X POST "$FS/sourceConnections" -d '{
  "name": "Connecting to Profile Service",
  "baseConnectionId": "'"$UPS_BASE"'",
  "connectionSpec": {"id": "8a9c3494-9708-43d7-ae3f-cda01e5030e1", "version": "1.0"},
  "data": {"format": "json"},
  "params": {}
}' | field id)

echo "5. Base connection to the Event Hubs namespace, and a target connection"
EH_BASE=$(call -X POST "$FS/connections" -d '{
  "name": "Event Hubs",
  "auth": {"specName": "Azure EventHub authentication credentials",
           "params": {"sasKeyName": "'"$EH_KEY_NAME"'", "sasKey": "'"$EH_KEY"'", "namespace": "'"$EH_NAMESPACE"'"}},
  "connectionSpec": {"id": "bf9f5905-92b7-48bf-bf20-455bc6b60a4e", "version": "1.0"}
}' | field id)
TARGET=$(call -X POST "$FS/targetConnections" -d '{
  "name": "Event Hubs target",
  "baseConnectionId": "'"$EH_BASE"'",
  "connectionSpec": {"id": "bf9f5905-92b7-48bf-bf20-455bc6b60a4e", "version": "1.0"},
  "data": {"format": "json"},
  "params": {"eventHubName": "'"$EVENT_HUB"'"}
}' | field id)
echo "   connection test: $(call "$FS/connections/$EH_BASE/test")"

echo "6. The dataflow"
FLOW=$(call -X POST "$FS/flows" -d '{
  "name": "Azure Event Hubs",
  "flowSpec": {"id": "71471eba-b620-49e4-90fd-23f1fa0174d8", "version": "1.0"},
  "sourceConnectionIds": ["'"$SOURCE"'"],
  "targetConnectionIds": ["'"$TARGET"'"],
  "transformations": [{"name": "GeneralTransform", "params": {
    "profileSelectors": {"selectors": [{"type": "JSON_PATH", "value": {"path": "personalEmail.address", "operator": "EXISTS"}}]},
    "segmentSelectors": {"selectors": []}}}]
}')
FLOW_ID=$(echo "$FLOW" | field id)
ETAG=$(echo "$FLOW" | field etag)
echo "   flow $FLOW_ID"

echo "7. Activate the segment and another attribute (JSON Patch with If-Match)"
call -X PATCH "$FS/flows/$FLOW_ID" -H "If-Match: $ETAG" -d '[
  {"op": "add", "path": "/transformations/0/params/segmentSelectors/selectors/-",
   "value": {"type": "PLATFORM_SEGMENT", "value": {"name": "Gold members", "id": "'"$SEGMENT_ID"'"}}},
  {"op": "add", "path": "/transformations/0/params/profileSelectors/selectors/-",
   "value": {"type": "JSON_PATH", "value": {"operator": "EXISTS", "path": "person.name.firstName"}}}
]' >/dev/null

echo "8. The flow now maps both"
call "$FS/flows/$FLOW_ID" | field items.0.transformations

echo "9. A second qualifying profile: exported within a second"
call -X POST "$BASE/data/core/ups/ingest/profiles" -d '{"profiles": [{
  "identityMap": {"email": [{"id": "john@example.com"}]},
  "person": {"name": {"firstName": "John", "lastName": "Doe"}},
  "personalEmail": {"address": "john@example.com"},
  "loyalty": {"tier": "gold"}
}]}' >/dev/null

echo "Done. Runs: curl \"\${H[@]}\" '$FS/runs?property=flowId==$FLOW_ID'"
echo "FLOW_ID=$FLOW_ID"
