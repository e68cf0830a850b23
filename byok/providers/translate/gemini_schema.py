"""JSON Schema (what OpenAI tools and response_format carry) as Gemini's `Schema`, the OpenAPI 3.0 subset that
Vertex AI takes for function parameters and `responseSchema`, in its REST API's field names.

What Gemini has, is kept: type, description, title, enum, default, nullable, properties, required, items,
additionalProperties, minimum/maximum, min/maxLength, pattern, min/maxItems, min/maxProperties, and the formats Gemini
knows for the type (date-time; float, double; int32, int64) — Gemini refuses any other format (`examples` becomes
Gemini's single `example`). What needs a different shape is rewritten with the same meaning: a type list
(`["string", "null"]`) or a null branch of anyOf becomes `nullable`, `oneOf` becomes `anyOf` (a union either way: the
model is asked for one branch), `const` becomes a one-value `enum`, non-string enum values become strings with
format `enum` (how Gemini spells an integer enum), `$ref` to `$defs`/`definitions` is inlined and `allOf` is merged
into its parent. Everything else (exclusiveMinimum, multipleOf, uniqueItems, not, if/then/else, patternProperties,
$schema, vendor `x-…` keys, …) has no Gemini field and is dropped: each only narrows which values are valid, so the
model sees a looser schema, never a different one. What cannot be loosened that way is refused with a 400 naming
the place: tuple arrays (`items` as a list, `prefixItems`), recursive or unresolvable `$ref`, conflicting `allOf`
branches, unknown types, and schemas that expand past MAX_SCHEMAS in one request. A response schema also lists each object's properties in `propertyOrdering` (as
google-genai does), so that Gemini answers them in the order the caller declared rather than alphabetically.
"""

import json

from . import RequestInvalid

_TYPES = {"string": "STRING", "number": "NUMBER", "integer": "INTEGER", "boolean": "BOOLEAN", "array": "ARRAY",
          "object": "OBJECT", "null": "NULL"}
# JSON Schema keyword -> (Gemini field, what its value must be)
_KEPT = {"description": ("description", str), "title": ("title", str), "pattern": ("pattern", str),
         "default": ("default", object), "nullable": ("nullable", bool), "minimum": ("minimum", (int, float)),
         "maximum": ("maximum", (int, float)), "minLength": ("minLength", int), "maxLength": ("maxLength", int),
         "minItems": ("minItems", int), "maxItems": ("maxItems", int), "minProperties": ("minProperties", int),
         "maxProperties": ("maxProperties", int)}
_KINDS = {str: "a string", bool: "true or false", int: "an integer"}
_FORMATS = {"STRING": ("date-time",), "NUMBER": ("float", "double"), "INTEGER": ("int32", "int64")}
_MAX_DEPTH = 32  # deeper request JSON would exhaust the recursion before Vertex AI saw it
MAX_SCHEMAS = 10_000  # translated (sub-)schemas in one request: about 0.1 s of the event loop


class SchemaBudget:
    """How many schemas one request's tools and response format may still translate to. Inlining `$ref`s can make
    a schema of a few hundred bytes exponentially large (two refs to a definition that holds two refs to the next…),
    and the translation runs on the event loop: past the budget the request is refused."""

    def __init__(self, schemas: int = MAX_SCHEMAS) -> None:
        self.left = schemas

    def spend(self, where: str) -> None:
        self.left -= 1
        if self.left < 0:
            raise RequestInvalid(f"{_field(where)}: the request's schemas expand ($ref inlined) to more than "
                                 f"{MAX_SCHEMAS:,} schemas; Gemini needs them smaller.", param=_field(where))


def gemini_schema(schema, *, param: str, ordered: bool = False, budget: SchemaBudget | None = None) -> dict:
    """`schema` (a JSON Schema object) translated; RequestInvalid(param=…) names where it cannot be expressed.
    `ordered`: each object with more than one property says their order (`propertyOrdering`). `budget`: the
    request's, shared by all its schemas (a schema of its own when not given)."""
    if not isinstance(schema, dict):
        raise RequestInvalid(f"{param} must be a JSON Schema object.", param=_field(param))
    defs = {**_mapping(schema.get("definitions"), f"{param}.definitions"),
            **_mapping(schema.get("$defs"), f"{param}.$defs")}
    return _Translation(defs, ordered=ordered, budget=budget or SchemaBudget()).schema(schema, param, depth=0,
                                                                                        refs=())


def _mapping(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestInvalid(f"{where} must be an object.", param=_field(where))
    return value


class _Translation:
    def __init__(self, defs: dict, *, ordered: bool, budget: SchemaBudget) -> None:
        self.defs = defs
        self.ordered = ordered
        self.budget = budget

    def schema(self, schema, where: str, *, depth: int, refs: tuple[str, ...]) -> dict:
        if not isinstance(schema, dict):
            self.refuse(where, "must be a JSON Schema object")
        self.budget.spend(where)
        if depth > _MAX_DEPTH:
            self.refuse(where, f"nests deeper than {_MAX_DEPTH} levels")
        schema, refs = self.flattened(schema, where, refs=refs)
        out: dict = {}
        for ours, (theirs, kind) in _KEPT.items():
            value = schema.get(ours)
            if value is None:
                continue
            if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int, float))):  # True: no int
                self.refuse(f"{where}.{ours}", f"must be {_KINDS.get(kind, 'a number')}")
            out[theirs] = value
        if isinstance(schema.get("examples"), list) and schema["examples"]:
            out.setdefault("example", schema["examples"][0])
        elif "example" in schema:
            out["example"] = schema["example"]
        self.type_into(out, schema.get("type"), where)
        if schema.get("format") in _FORMATS.get(out.get("type"), ()):
            out["format"] = schema["format"]
        values = [schema["const"]] if "const" in schema else schema.get("enum")
        if values is not None:
            self.enum_into(out, values, where)
        union = schema.get("anyOf", schema.get("oneOf"))
        if union is not None:
            self.union_into(out, union, where, depth=depth, refs=refs)
        if schema.get("properties") is not None:
            properties = schema["properties"]
            if not isinstance(properties, dict):
                self.refuse(f"{where}.properties", "must be an object of property schemas")
            out["properties"] = {name: self.schema(value, f"{where}.properties.{name}", depth=depth + 1, refs=refs)
                                 for name, value in properties.items()}
            if self.ordered and len(properties) > 1 and out.get("type") == "OBJECT":
                out["propertyOrdering"] = list(properties)
        if schema.get("required") is not None:
            required = schema["required"]
            if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
                self.refuse(f"{where}.required", "must be a list of property names")
            out["required"] = required
        if "prefixItems" in schema or isinstance(schema.get("items"), list):
            self.refuse(where, "is a tuple array (prefixItems, or items as a list), which Gemini cannot express; "
                               "describe the items with one schema")
        if schema.get("items") is not None:
            out["items"] = self.schema(schema["items"], f"{where}.items", depth=depth + 1, refs=refs)
        additional = schema.get("additionalProperties")
        if isinstance(additional, bool):
            out["additionalProperties"] = additional
        elif additional is not None:
            out["additionalProperties"] = self.schema(additional, f"{where}.additionalProperties", depth=depth + 1,
                                                       refs=refs)
        return out

    def flattened(self, schema: dict, where: str, *, refs: tuple[str, ...]) -> tuple[dict, tuple[str, ...]]:
        """The schema with its `$ref` inlined and its `allOf` branches merged in (its own keys win), and the refs
        followed to get there (what its sub-schemas must not refer back to)."""
        if "$ref" in schema:
            ref = schema["$ref"]
            name = ref.rsplit("/", 1)[-1] if isinstance(ref, str) else ""
            if not isinstance(ref, str) or ref not in (f"#/$defs/{name}", f"#/definitions/{name}") \
                    or name not in self.defs:
                self.refuse(f"{where}.$ref", f"{ref!r} does not name an entry of the schema's $defs")
            if ref in refs:
                self.refuse(f"{where}.$ref", f"{ref!r} is recursive, which Gemini cannot express")
            if not isinstance(self.defs[name], dict):
                self.refuse(f"{where}.$ref", f"{ref!r} names an entry that is not a JSON Schema object")
            target, refs = self.flattened(self.defs[name], where, refs=(*refs, ref))
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        if "allOf" in schema:
            branches = schema["allOf"]
            if not isinstance(branches, list):
                self.refuse(f"{where}.allOf", "must be a list of schemas")
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for index, branch in enumerate(branches):
                if not isinstance(branch, dict):
                    self.refuse(f"{where}.allOf[{index}]", "must be a JSON Schema object")
                flat, branch_refs = self.flattened(branch, f"{where}.allOf[{index}]", refs=refs)
                merged = _merge(merged, flat, f"{where}.allOf[{index}]")
                refs = tuple(dict.fromkeys(refs + branch_refs))
            schema = merged
        return schema, refs

    def type_into(self, out: dict, value, where: str) -> None:
        if value is None:
            return
        names = value if isinstance(value, list) else [value]
        if not names or not all(isinstance(name, str) and name in _TYPES for name in names):
            self.refuse(f"{where}.type", f"must be one of {', '.join(_TYPES)} (or a list of them)")
        if "null" in names and len(names) > 1:
            out["nullable"] = True
            names = [name for name in names if name != "null"]
        if len(names) == 1:
            out["type"] = _TYPES[names[0]]
        else:  # ["string", "integer"]: a union of the types
            out.setdefault("anyOf", []).extend({"type": _TYPES[name]} for name in names)

    def enum_into(self, out: dict, values, where: str) -> None:
        if not isinstance(values, list) or not values:
            self.refuse(f"{where}.enum", "must be a non-empty list of values")
        if None in values:
            out["nullable"] = True
        kept = [value for value in values if value is not None]
        out["enum"] = [value if isinstance(value, str) else json.dumps(value) for value in kept]
        if any(not isinstance(value, str) for value in kept):
            out.setdefault("format", "enum")

    def union_into(self, out: dict, branches, where: str, *, depth: int, refs: tuple[str, ...]) -> None:
        if not isinstance(branches, list) or not branches:
            self.refuse(f"{where}.anyOf", "must be a non-empty list of schemas")
        translated = [self.schema(branch, f"{where}.anyOf[{index}]", depth=depth + 1, refs=refs)
                      for index, branch in enumerate(branches)]
        if any(branch == {"type": "NULL"} for branch in translated):  # Optional[X]: X, nullable
            out["nullable"] = True
            translated = [branch for branch in translated if branch != {"type": "NULL"}]
        if len(translated) == 1:
            for key, value in translated[0].items():
                out.setdefault(key, value)
        elif translated:
            out.setdefault("anyOf", []).extend(translated)

    @staticmethod
    def refuse(where: str, problem: str):
        raise RequestInvalid(f"{where} {problem}.", param=_field(where))


def _field(where: str) -> str:
    """The request's top-level field a place is in (`tools[0].function.parameters.type` → `tools`)."""
    return where.split(".")[0].split("[")[0]


def _merge(into: dict, branch: dict, where: str) -> dict:
    """An allOf branch merged into its schema: properties and required combined, any other keyword must agree."""
    merged = dict(into)
    for key, value in branch.items():
        if key == "properties" and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **{name: sub for name, sub in value.items() if name not in merged[key]}}
        elif key == "required" and isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = merged[key] + [name for name in value if name not in merged[key]]
        elif key in ("description", "title", "default", "examples", "example"):
            merged.setdefault(key, value)  # annotations: the parent's (or the first branch's) win
        elif key in merged and merged[key] != value:
            raise RequestInvalid(f"{where}: its {key!r} conflicts with another allOf branch; Gemini needs one "
                                 f"schema.", param=_field(where))
        else:
            merged[key] = value
    return merged
