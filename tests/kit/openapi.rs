//! An OpenAPI 3.1 document read as JSON, and the contract checks made with it: which operations it
//! documents, the request its examples make, and whether an answer is one it documents (status,
//! headers, content type, and a body that validates against the schema of that answer).
//!
//! Bodies are validated with the `jsonschema` crate (draft 2020-12, the dialect of OpenAPI 3.1
//! schemas, formats checked), the `$ref`s resolved into the document's `#/components/schemas`.
//! The checks are stricter than the document: an object with `properties` accepts no other
//! property, so a field the server sends and the document does not describe fails the check
//! (the document itself stays open to additions, as clients expect).

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// An OpenAPI document.
#[derive(Debug, Clone)]
pub struct Document {
    root: Value,
    /// `#/components/schemas`, closed to undocumented properties.
    strict_schemas: Value,
}

/// One operation of a [`Document`].
#[derive(Debug, Clone, Copy)]
pub struct Operation<'a> {
    /// `get`, `post`, …
    pub method: &'a str,
    /// The path template, `{name}` for each path parameter.
    pub path: &'a str,
    /// The operation object.
    pub value: &'a Value,
}

/// An HTTP answer, as the checks read it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Vec<u8>,
}

impl Answer {
    /// Reads `response` whole.
    ///
    /// # Panics
    /// When the body cannot be read.
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("the body").to_vec();
        Self {
            status,
            headers,
            body,
        }
    }

    /// The body as JSON (`null` when it is not JSON).
    #[must_use]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The essence of the `Content-Type` (`application/json`), lower case, if any.
    #[must_use]
    pub fn content_type(&self) -> Option<String> {
        let value = self
            .headers
            .get(reqwest::header::CONTENT_TYPE)?
            .to_str()
            .ok()?;
        let essence = value.split(';').next().unwrap_or_default().trim();
        Some(essence.to_ascii_lowercase())
    }

    /// The body, for messages.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl<'a> Operation<'a> {
    /// Its `operationId`.
    ///
    /// # Panics
    /// When it has none.
    #[must_use]
    pub fn id(&self) -> &'a str {
        self.value["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{} {} has no operationId", self.method, self.path))
    }

    /// The scopes its `bearer` security requirement lists (none for an open operation).
    #[must_use]
    pub fn scopes(&self) -> Vec<&'a str> {
        self.value["security"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|requirement| requirement["bearer"].as_array())
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    }

    /// Its parameters of `location` (`path`, `query`, …).
    #[must_use]
    pub fn parameters(&self, location: &str) -> Vec<&'a Value> {
        self.value["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|parameter| parameter["in"] == json!(location))
            .collect()
    }

    /// The path with each path parameter's value from `values`, else its example.
    ///
    /// # Panics
    /// When a path parameter has neither.
    #[must_use]
    pub fn example_path(&self, values: &[(&str, &str)]) -> String {
        let mut path = self.path.to_owned();
        for parameter in self.parameters("path") {
            let name = parameter["name"].as_str().expect("a parameter name");
            let value = values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
                .or_else(|| example_text(&parameter["example"]))
                .unwrap_or_else(|| panic!("{}: no value for {{{name}}}", self.id()));
            path = path.replace(&format!("{{{name}}}"), &value);
        }
        path
    }

    /// Every query parameter that has an example, with it.
    #[must_use]
    pub fn example_query(&self) -> Vec<(String, String)> {
        self.parameters("query")
            .into_iter()
            .filter_map(|parameter| {
                let name = parameter["name"].as_str()?.to_owned();
                Some((name, example_text(&parameter["example"])?))
            })
            .collect()
    }

    /// The example of its JSON request body, if it takes one.
    #[must_use]
    pub fn example_body(&self) -> Option<&'a Value> {
        self.value["requestBody"]["content"]["application/json"]
            .get("example")
            .filter(|example| !example.is_null())
    }
}

impl std::fmt::Display for Operation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method.to_ascii_uppercase(), self.path)
    }
}

/// A parameter example as the text of a query or path value.
fn example_text(example: &Value) -> Option<String> {
    match example {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// `schema` with every object that lists `properties` closed to other properties.
fn closed(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut map: serde_json::Map<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), closed(v))).collect();
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(map)
        }
        Value::Array(items) => Value::Array(items.iter().map(closed).collect()),
        other => other.clone(),
    }
}

impl Document {
    /// The document `root`.
    #[must_use]
    pub fn new(root: Value) -> Self {
        let strict_schemas = closed(&root["components"]["schemas"]);
        Self {
            root,
            strict_schemas,
        }
    }

    /// Fetches the document at `url`.
    ///
    /// # Panics
    /// When it cannot be fetched or is not JSON.
    pub async fn fetch(url: &str) -> Self {
        let response = reqwest::get(url).await.expect("the document");
        assert_eq!(response.status(), 200, "{url}");
        Self::new(response.json().await.expect("the document is JSON"))
    }

    /// The document as JSON.
    #[must_use]
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// Every operation, by path then method.
    #[must_use]
    pub fn operations(&self) -> Vec<Operation<'_>> {
        let mut found = Vec::new();
        for (path, item) in self.root["paths"].as_object().into_iter().flatten() {
            for (method, value) in item.as_object().into_iter().flatten() {
                found.push(Operation {
                    method,
                    path,
                    value,
                });
            }
        }
        found
    }

    /// The operation `id`.
    ///
    /// # Panics
    /// When there is none.
    #[must_use]
    pub fn operation(&self, id: &str) -> Operation<'_> {
        self.operations()
            .into_iter()
            .find(|operation| operation.value["operationId"] == json!(id))
            .unwrap_or_else(|| panic!("no operation {id}"))
    }

    /// `value`, or what its `$ref` (`#/components/…`) points at.
    ///
    /// # Panics
    /// When the `$ref` leads nowhere.
    #[must_use]
    pub fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value["$ref"].as_str() {
            Some(pointer) => self
                .root
                .pointer(pointer.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("{pointer} leads nowhere")),
            None => value,
        }
    }

    /// What is wrong with `instance` against `schema` (a schema of this document, its `$ref`s into
    /// `#/components/schemas`); empty when it validates.
    ///
    /// # Panics
    /// When `schema` is not a schema the validator can build.
    #[must_use]
    pub fn schema_errors(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let root = json!({
            "components": {"schemas": self.strict_schemas},
            "allOf": [closed(schema)],
        });
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("not a schema: {e}: {schema}"));
        validator
            .iter_errors(instance)
            .map(|error| format!("at {:?}: {error}", error.instance_path().as_str()))
            .collect()
    }

    /// Checks that `answer` is one `operation` documents: its status is documented, with each
    /// documented header, the documented content type and a body that validates against that
    /// content's schema (no body when none is documented).
    ///
    /// # Panics
    /// On the first difference, naming the operation, the status and what differs.
    pub fn check(&self, operation: &Operation<'_>, answer: &Answer) {
        let status = answer.status;
        let at = format!("{operation} answered {status}");
        let documented = operation.value["responses"]
            .get(status.to_string())
            .unwrap_or_else(|| panic!("{at}, which it does not document: {}", answer.text()));
        let response = self.resolve(documented);
        for (name, _) in response["headers"].as_object().into_iter().flatten() {
            assert!(
                answer.headers.contains_key(name.as_str()),
                "{at} without {name}"
            );
        }
        let Some(contents) = response["content"].as_object() else {
            assert!(
                answer.body.is_empty(),
                "{at} with a body: {}",
                answer.text()
            );
            return;
        };
        let kind = answer
            .content_type()
            .unwrap_or_else(|| panic!("{at} without Content-Type"));
        let content = contents.get(&kind).unwrap_or_else(|| {
            panic!(
                "{at} as {kind}; documented: {:?}",
                contents.keys().collect::<Vec<_>>()
            )
        });
        let instance = if kind.ends_with("json") {
            serde_json::from_slice(&answer.body)
                .unwrap_or_else(|e| panic!("{at}: not JSON ({e}): {}", answer.text()))
        } else {
            Value::String(answer.text())
        };
        let errors = self.schema_errors(&content["schema"], &instance);
        assert!(
            errors.is_empty(),
            "{at}: the body does not match the documented schema:\n  {}\nbody: {instance:#}",
            errors.join("\n  ")
        );
    }
}
