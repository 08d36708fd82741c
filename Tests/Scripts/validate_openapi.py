#!/usr/bin/env python3
"""Validates OpenAPI documents with openapi-spec-validator: each argument is a JSON file.

Prints one line per invalid document and exits 1 if any is invalid (2 if the validator is missing).
"""
import json
import sys

try:
    from openapi_spec_validator import validate
except ImportError:
    print("openapi-spec-validator is not installed: python3 -m pip install openapi-spec-validator", file=sys.stderr)
    sys.exit(2)

failed = False
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as file:
        document = json.load(file)
    try:
        validate(document)
    except Exception as error:  # the validator raises several error types; each one is a finding
        failed = True
        print(f"{path}: {error}")
sys.exit(1 if failed else 0)
