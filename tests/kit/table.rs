//! Bad-input tables: rows that each spoil one field of a valid request, run against a server with
//! the answer each must get (its code and the one field it names) and no row written to any table.
//! Every row is run; [`assert_no_failures`] then lists every row answered wrongly.

use absync_adapter_grpc::proto;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::AnyPool;
use std::fmt::Debug;
use std::future::Future;
use tonic::Code;
use tonic_types::StatusExt;

/// Every table of both stores.
pub const TABLES: [&str; 8] = [
    "tenants",
    "api_tokens",
    "absences",
    "leaves",
    "leave_events",
    "subscriptions",
    "deliveries",
    "delivery_attempts",
];

/// One bad-input case: how to spoil a valid request, and the answer that must come back.
pub struct Row<R, C> {
    pub what: String,
    pub spoil: Box<dyn Fn(&mut R)>,
    pub code: C,
    /// The one field the answer must name; `None` for answers about the whole message.
    pub field: Option<&'static str>,
}

impl<R, C: Debug> Debug for Row<R, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("what", &self.what)
            .field("code", &self.code)
            .field("field", &self.field)
            .finish_non_exhaustive()
    }
}

pub fn row<R, C>(
    what: impl Into<String>,
    code: C,
    field: Option<&'static str>,
    spoil: impl Fn(&mut R) + 'static,
) -> Row<R, C> {
    Row {
        what: what.into(),
        spoil: Box::new(spoil),
        code,
        field,
    }
}

/// Rows answered with `code` naming `field`, one a line: `"what" => "field", |request| spoil;`.
#[macro_export]
macro_rules! rows {
    ($request:ty, $code:expr; $($what:expr => $field:expr, |$r:ident| $spoil:expr;)+) => {
        vec![$($crate::table::row($what, $code, Some($field), move |$r: &mut $request| { $spoil; })),+]
    };
}

/// One row per bad value of one field: `"{label} {what}"`, answered with `code` naming `field`.
pub fn each<R, C: Copy + 'static, V: Clone + 'static>(
    code: C,
    label: &str,
    field: &'static str,
    values: &[(&str, V)],
    set: impl Fn(&mut R, V) + Clone + 'static,
) -> Vec<Row<R, C>> {
    values
        .iter()
        .map(|(what, value)| {
            let (set, value) = (set.clone(), value.clone());
            row(format!("{label} {what}"), code, Some(field), move |r| {
                set(r, value.clone());
            })
        })
        .collect()
}

/// What the server answered.
#[derive(Debug)]
pub struct Answer<C> {
    pub code: C,
    /// The fields the answer names.
    pub fields: Vec<String>,
    /// What is wrong with the answer's envelope (no BadRequest detail, not a problem document, …).
    pub flaw: Option<String>,
}

impl<C> Answer<C> {
    pub fn accepted(code: C) -> Self {
        Self {
            code,
            fields: Vec::new(),
            flaw: None,
        }
    }
}

/// The number of rows of every table of [`TABLES`].
///
/// # Panics
/// When a count fails.
pub async fn counts(pool: &AnyPool) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(pool)
            .await
            .expect("count the rows of a table");
        counts.push((table, n));
    }
    counts
}

/// Runs `rows` through `call`, each on a spoiled copy of `valid`; returns every mismatch.
///
/// # Panics
/// When the rows of a table cannot be counted.
pub async fn run<R, C, F, Fut>(
    pool: &AnyPool,
    surface: &str,
    valid: &R,
    rows: Vec<Row<R, C>>,
    call: F,
) -> Vec<String>
where
    R: Clone,
    C: PartialEq + Debug,
    F: Fn(R) -> Fut,
    Fut: Future<Output = Answer<C>>,
{
    let mut failures = Vec::new();
    for row in rows {
        let before = counts(pool).await;
        let mut request = valid.clone();
        (row.spoil)(&mut request);
        let answer = call(request).await;
        let after = counts(pool).await;
        let mut wrong = Vec::new();
        if answer.code != row.code {
            wrong.push(format!("code {:?}, expected {:?}", answer.code, row.code));
        }
        let expected: Vec<String> = row.field.iter().map(|f| (*f).to_owned()).collect();
        if answer.fields != expected {
            wrong.push(format!("fields {:?}, expected {expected:?}", answer.fields));
        }
        wrong.extend(answer.flaw);
        for ((table, was), (_, is)) in before.iter().zip(&after) {
            if was != is {
                wrong.push(format!("wrote to {table}: {was} → {is} rows"));
            }
        }
        if !wrong.is_empty() {
            failures.push(format!("{surface}: {}: {}", row.what, wrong.join("; ")));
        }
    }
    failures
}

pub fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} bad-input rows answered wrongly:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `InvalidArgument` → `"INVALID_ARGUMENT"`, as PutAbsences names codes.
pub fn code_name(code: Code) -> String {
    let mut name = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

pub fn code_named(name: &str) -> Option<Code> {
    (0..=16).map(Code::from_i32).find(|c| code_name(*c) == name)
}

/// The answer of a gRPC call: its code and the fields of its `google.rpc.BadRequest`.
pub fn grpc<T>(result: Result<T, tonic::Status>) -> Answer<Code> {
    let Err(status) = result else {
        return Answer::accepted(Code::Ok);
    };
    let fields: Vec<String> = status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default();
    let flaw = if status.code() == Code::InvalidArgument && fields.is_empty() {
        Some(format!(
            "no google.rpc.BadRequest field violation: {status:?}"
        ))
    } else {
        fields
            .iter()
            .find(|f| !status.message().contains(f.as_str()))
            .map(|field| format!("message {:?} does not name {field}", status.message()))
    };
    Answer {
        code: status.code(),
        fields,
        flaw,
    }
}

/// Lifts rows of a part (an absence) to spoil that part inside a request.
pub fn lift<T: 'static, R: 'static, C>(
    rows: Vec<Row<T, C>>,
    absence: fn(&mut R) -> &mut T,
) -> Vec<Row<R, C>> {
    rows.into_iter()
        .map(|r| {
            let spoil = r.spoil;
            Row {
                what: r.what,
                spoil: Box::new(move |request: &mut R| spoil(absence(request))),
                code: r.code,
                field: r.field,
            }
        })
        .collect()
}

/// A PutAbsences answer for `[the seeded absence, the spoiled one]`: the first must stay
/// UNCHANGED (one bad absence fails only itself), the second is the row's answer.
pub fn batch_answer(results: &[proto::PutAbsenceResult]) -> Answer<Code> {
    use proto::put_absence_result::Result as One;
    let [first, second] = results else {
        let mut answer = Answer::accepted(Code::Ok);
        answer.flaw = Some(format!("{} results for 2 absences", results.len()));
        return answer;
    };
    let unchanged = matches!(&first.result,
        Some(One::Change(c)) if c.outcome() == proto::ChangeOutcome::Unchanged);
    let flaw = (!unchanged).then(|| format!("the seeded absence was not UNCHANGED: {first:?}"));
    let Some(One::Error(e)) = &second.result else {
        let mut answer = Answer::accepted(Code::Ok);
        answer.flaw = flaw;
        return answer;
    };
    let fields: Vec<String> = e.field_violations.iter().map(|v| v.field.clone()).collect();
    let flaw = flaw.or_else(|| {
        fields
            .iter()
            .find(|f| !e.message.contains(f.as_str()))
            .map(|f| format!("message {:?} does not name {f}", e.message))
    });
    Answer {
        code: code_named(&e.code).unwrap_or(Code::Unknown),
        fields,
        flaw,
    }
}

// -------------------------------------------------------------------------------------------------
// REST

/// A REST request.
#[derive(Debug, Clone)]
pub struct Http {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub content_type: &'static str,
    pub body: Option<Vec<u8>>,
}

impl Http {
    pub fn post_json(path: &str, body: &Value) -> Self {
        Self {
            method: Method::POST,
            path: path.to_owned(),
            query: Vec::new(),
            content_type: "application/json",
            body: Some(body.to_string().into_bytes()),
        }
    }

    pub fn get(path: &str, query: &[(&str, &str)]) -> Self {
        Self {
            method: Method::GET,
            path: path.to_owned(),
            query: query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            content_type: "",
            body: None,
        }
    }

    /// Changes one property of the JSON body (`None` removes it).
    pub fn set(&mut self, property: &str, value: Option<Value>) {
        let body = self.body.as_deref().expect("a request with a body");
        let mut body: Value = serde_json::from_slice(body).expect("a JSON body");
        let object = body.as_object_mut().expect("a JSON object");
        match value {
            Some(value) => object.insert(property.to_owned(), value),
            None => object.remove(property),
        };
        self.body = Some(body.to_string().into_bytes());
    }

    /// Sets a query parameter, replacing any of the same name.
    pub fn param(&mut self, name: &str, value: &str) {
        self.query.retain(|(k, _)| k != name);
        self.query.push((name.to_owned(), value.to_owned()));
    }
}

/// Sends a REST request to the server at `base` (`http://127.0.0.1:…`) with `token`; reads the
/// problem document of an error.
///
/// # Panics
/// When the server cannot be reached.
pub async fn send(base: &str, token: &str, request: Http) -> Answer<StatusCode> {
    let mut builder = reqwest::Client::new()
        .request(request.method, format!("{base}{}", request.path))
        .bearer_auth(token)
        .header("User-Agent", "e2e")
        .query(&request.query);
    if !request.content_type.is_empty() {
        builder = builder.header("Content-Type", request.content_type);
    }
    if let Some(body) = request.body {
        builder = builder.body(body);
    }
    let response = builder.send().await.expect("send the request");
    let code = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if code.is_success() {
        return Answer::accepted(code);
    }
    let fields: Vec<String> = body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let detail = body["detail"].as_str().unwrap_or_default();
    let flaw = if content_type != "application/problem+json" {
        Some(format!(
            "content type {content_type:?}, not a problem document"
        ))
    } else if body["status"] != json!(code.as_u16()) {
        Some(format!("problem status {} for {code}", body["status"]))
    } else if detail.is_empty() {
        Some(format!("a problem without detail: {body}"))
    } else {
        fields
            .iter()
            .find(|f| !detail.contains(f.as_str()))
            .map(|f| format!("detail {detail:?} does not name {f}"))
    };
    Answer { code, fields, flaw }
}
