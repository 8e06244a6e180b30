#!/bin/bash
# Reads JSON on stdin and prints its keys.
jq -r 'keys[]'
