#!/usr/bin/env python3
"""Validates YAML spec files against a JSON Schema file, the way an editor would.

Usage: validate_spec_schema.py SCHEMA.json FILE.yaml [FILE.yaml ...]

Prints one JSON object mapping each file to the list of its schema errors (empty when it is valid)
and exits 0; exits 2 when the schema itself is not a valid draft 2020-12 schema or a file cannot be read.

YAML is read with the YAML 1.2 core schema, as editors do: `off`, `yes` and `no` are text, not
booleans, and there are no timestamps. PyYAML's default (YAML 1.1) would turn `admin_listen: off`
into false.
"""

import json
import re
import sys

import jsonschema
import yaml


class CoreLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core booleans and without 1.1 timestamps."""


CoreLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def with_text_keys(value):
    """Mapping keys as text: the loader reads every key as its text, and JSON has only string keys."""
    if isinstance(value, dict):
        return {str(key): with_text_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [with_text_keys(item) for item in value]
    return value


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.exceptions.SchemaError as error:
        print(f"{argv[1]}: not a valid JSON Schema: {error.message}", file=sys.stderr)
        return 2
    validator = validator_class(schema)
    results = {}
    for path in argv[2:]:
        with open(path, encoding="utf-8") as f:
            document = with_text_keys(yaml.load(f, Loader=CoreLoader))
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        results[path] = [f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}" for error in errors]
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
