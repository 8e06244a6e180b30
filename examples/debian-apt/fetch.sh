#!/bin/sh
# Prints the HTTP status of the URL given, or of example.com.
curl -s -o /dev/null -w '%{http_code}\n' "${1:-https://example.com}"
