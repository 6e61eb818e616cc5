//! EC2's query protocol answers (`<DescribeInstancesResponse>…`, XML) against botocore's `ec2`
//! model, with the same strictness as the JSON checks of [`super::botocore`]: unknown elements,
//! missing required members, scalar types, enums, bounds. EC2 names elements by each member's
//! `locationName` (else the member name) and wraps list items in the list member's `locationName`
//! (`item`); the root element is `<Operation>Response` and carries a `requestId` beside the output
//! members. botocore's `ec2` model declares no errors: an error answer is checked for the shape of
//! EC2's error document only.
//!
//! [`sample_answer`] builds a complete answer from the model itself (every member, one item per
//! list), so the checker can be tested against the model before the simulator has an EC2 face.

use serde_json::Value;

use super::botocore::{Model, check_range, check_scalar_text, member_target, required_members};
use super::{Problem, join};

/// An XML element: name (without prefix), children, and its text (trimmed, unescaped).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// The local name.
    pub name: String,
    /// Child elements, in order.
    pub children: Vec<Element>,
    /// The text directly inside it.
    pub text: String,
}

impl Element {
    fn new(name: &str) -> Self {
        Self { name: name.to_owned(), ..Self::default() }
    }

    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The element as XML text (no declaration, no namespace).
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        out.push('>');
        out.push_str(&escape(&self.text));
        for c in &self.children {
            c.render_into(out);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').ok_or_else(|| format!("unterminated entity in `{s}`"))? + i;
        let entity = &rest[i + 1..end];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = entity
                    .strip_prefix("#x")
                    .map(|h| u32::from_str_radix(h, 16))
                    .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                    .and_then(Result::ok)
                    .and_then(char::from_u32);
                code.ok_or_else(|| format!("unknown entity `&{entity};`"))?
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses an XML document into its root element.
///
/// # Errors
/// When the text is not well-formed XML.
pub fn parse(xml: &str) -> Result<Element, String> {
    use xmlparser::{ElementEnd, Token, Tokenizer};
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    for token in Tokenizer::from(xml) {
        match token.map_err(|e| e.to_string())? {
            Token::ElementStart { local, .. } => stack.push(Element::new(local.as_str())),
            Token::ElementEnd { end: ElementEnd::Open, .. } | Token::Attribute { .. } => {}
            Token::ElementEnd { end, .. } => {
                let mut done = stack.pop().ok_or("an end tag without a start")?;
                if let ElementEnd::Close(_, local) = end
                    && local.as_str() != done.name
                {
                    return Err(format!("</{}> closes <{}>", local.as_str(), done.name));
                }
                done.text = done.text.trim().to_owned();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Token::Text { text } => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&unescape(text.as_str())?);
                }
            }
            Token::Cdata { text, .. } => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(text.as_str());
                }
            }
            _ => {}
        }
    }
    root.ok_or_else(|| "no root element".to_owned())
}

/// The element name of a structure member: its `locationName`, else its name.
fn wire_name<'a>(name: &'a str, member: &'a Value) -> &'a str {
    member["locationName"].as_str().unwrap_or(name)
}

/// Every problem of an EC2 answer to `operation` (status 200: the output; else EC2's error document).
#[must_use]
pub fn check_answer(model: &Model, operation: &str, status: u16, xml: &str) -> Vec<Problem> {
    let root = match parse(xml) {
        Ok(root) => root,
        Err(e) => return vec![Problem::new("response.body", format!("not XML: {e}"))],
    };
    if status != 200 {
        return check_error(&root);
    }
    let mut out = Vec::new();
    let expected = format!("{operation}Response");
    if root.name != expected {
        out.push(Problem::new("response.body", format!("the root is <{}>, not <{expected}>", root.name)));
    }
    if root.child("requestId").is_none() {
        out.push(Problem::new("response.body.requestId", "missing"));
    }
    let output = model.operation(operation).and_then(|o| o["output"]["shape"].as_str());
    let mut members = root.clone();
    members.children.retain(|c| c.name != "requestId");
    match output {
        Some(shape) => check_into(model, shape, &members, "response.body", &mut out),
        None if !members.children.is_empty() => {
            out.push(Problem::new("response.body", format!("{operation} has no output")));
        }
        None => {}
    }
    out
}

/// `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
fn check_error(root: &Element) -> Vec<Problem> {
    let mut out = Vec::new();
    if root.name != "Response" {
        out.push(Problem::new("response.body", format!("an EC2 error document is <Response>, not <{}>", root.name)));
    }
    let errors = root.child("Errors").map(|e| e.children.as_slice()).unwrap_or_default();
    if errors.is_empty() {
        out.push(Problem::new("response.body.Errors", "missing or empty"));
    }
    for (i, e) in errors.iter().enumerate() {
        let at = format!("response.body.Errors[{i}]");
        if e.name != "Error" || e.child("Code").is_none_or(|c| c.text.is_empty()) || e.child("Message").is_none() {
            out.push(Problem::new(at, "not an <Error> with <Code> and <Message>"));
        }
    }
    if root.child("RequestID").is_none() {
        out.push(Problem::new("response.body.RequestID", "missing"));
    }
    out
}

/// Every problem of `el` against shape `name` (EC2 XML rendering).
#[must_use]
pub fn check(model: &Model, name: &str, el: &Element, at: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    check_into(model, name, el, at, &mut out);
    out
}

fn check_into(model: &Model, name: &str, el: &Element, at: &str, out: &mut Vec<Problem>) {
    let Some(shape) = model.shape(name) else {
        out.push(Problem::new(at, format!("the model has no shape `{name}`")));
        return;
    };
    let kind = shape["type"].as_str().unwrap_or_default();
    if matches!(kind, "structure" | "list" | "map") && !el.text.is_empty() {
        out.push(Problem::new(at, format!("text `{}` inside a {kind}", el.text)));
    }
    match kind {
        "structure" => {
            let members = shape["members"].as_object().cloned().unwrap_or_default();
            let mut seen: Vec<&str> = Vec::new();
            for child in &el.children {
                let here = join(at, &child.name);
                match members.iter().find(|(n, m)| wire_name(n, m) == child.name) {
                    Some((member, m)) => {
                        if seen.contains(&member.as_str()) {
                            out.push(Problem::new(&here, "given twice"));
                        }
                        seen.push(member);
                        check_into(model, m["shape"].as_str().unwrap_or_default(), child, &here, out);
                    }
                    None => out.push(Problem::new(here, format!("{name} has no member named <{}>", child.name))),
                }
            }
            for required in required_members(shape) {
                if !seen.contains(&required) {
                    out.push(Problem::new(join(at, required), format!("missing, but {name} requires it")));
                }
            }
        }
        "list" => {
            let item = shape["member"]["locationName"].as_str().unwrap_or("member");
            let target = shape["member"]["shape"].as_str().unwrap_or_default();
            for (i, child) in el.children.iter().enumerate() {
                let here = format!("{at}[{i}]");
                if child.name == item {
                    check_into(model, target, child, &here, out);
                } else {
                    out.push(Problem::new(here, format!("a {name} item is <{item}>, not <{}>", child.name)));
                }
            }
        }
        _ if !el.children.is_empty() => {
            out.push(Problem::new(at, format!("{name} is a {kind}, the element has children")));
        }
        "string" | "blob" => check_scalar_text(name, shape, &el.text, at, out),
        "integer" | "long" => match el.text.parse::<i64>() {
            Ok(n) => check_range(shape, n as f64, at, out),
            Err(_) => out.push(Problem::new(at, format!("{name} is an {kind}, the text is `{}`", el.text))),
        },
        "float" | "double" => match el.text.parse::<f64>() {
            Ok(n) => check_range(shape, n, at, out),
            Err(_) => out.push(Problem::new(at, format!("{name} is a {kind}, the text is `{}`", el.text))),
        },
        "boolean" if !matches!(el.text.as_str(), "true" | "false") => {
            out.push(Problem::new(at, format!("{name} is a boolean, the text is `{}`", el.text)));
        }
        "timestamp" if !is_iso8601(&el.text) => {
            out.push(Problem::new(at, format!("{name} is an ISO 8601 timestamp, the text is `{}`", el.text)));
        }
        "boolean" | "timestamp" => {}
        other => out.push(Problem::new(at, format!("the checker does not know shape type `{other}` ({name})"))),
    }
}

/// `2026-01-01T00:00:00Z`, with optional fraction, `Z` or an offset.
fn is_iso8601(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let fixed = digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && b.get(10) == Some(&b'T')
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19);
    let rest = s.get(19..).unwrap_or_default();
    let rest = rest.strip_prefix('.').map_or(rest, |r| r.trim_start_matches(|c: char| c.is_ascii_digit()));
    fixed && (rest == "Z" || (rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-'))))
}

/// A complete answer to `operation` built from the model: every member of every structure (but no
/// shape inside itself), one item per list, the first value of each enum.
///
/// # Panics
/// When the model has no such operation with an output.
#[must_use]
pub fn sample_answer(model: &Model, operation: &str) -> Element {
    let output = model.operation(operation).and_then(|o| o["output"]["shape"].as_str()).expect("an output shape");
    let mut root = sample(model, output, &format!("{operation}Response"), &mut Vec::new());
    let mut request_id = Element::new("requestId");
    request_id.text = "59dbff89-35bd-4eac-99ed-be587EXAMPLE".to_owned();
    root.children.insert(0, request_id);
    root
}

fn sample(model: &Model, name: &str, element: &str, path: &mut Vec<String>) -> Element {
    let mut el = Element::new(element);
    let shape = model.shape(name).cloned().unwrap_or_default();
    path.push(name.to_owned());
    match shape["type"].as_str().unwrap_or_default() {
        "structure" => {
            for (member, m) in shape["members"].as_object().into_iter().flatten() {
                let target = member_target(&shape, member).unwrap_or_default();
                if !path.iter().any(|p| p == target) {
                    el.children.push(sample(model, target, wire_name(member, m), path));
                }
            }
        }
        "list" => {
            let item = shape["member"]["locationName"].as_str().unwrap_or("member");
            let target = shape["member"]["shape"].as_str().unwrap_or_default();
            if !path.iter().any(|p| p == target) {
                el.children.push(sample(model, target, item, path));
            }
        }
        kind => el.text = sample_text(kind, &shape),
    }
    path.pop();
    el
}

fn sample_text(kind: &str, shape: &Value) -> String {
    let min = shape["min"].as_u64().unwrap_or(1);
    match kind {
        "integer" | "long" => shape["min"].as_i64().unwrap_or(1).to_string(),
        "float" | "double" => "1.5".to_owned(),
        "boolean" => "true".to_owned(),
        "timestamp" => "2026-01-01T00:00:00.000Z".to_owned(),
        "blob" => "eA==".to_owned(),
        _ => match shape["enum"].get(0).and_then(Value::as_str) {
            Some(v) => v.to_owned(),
            None => "x".repeat(usize::try_from(min.max(1)).unwrap_or(1)),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_elements_text_and_entities() {
        let root = parse(
            r#"<?xml version="1.0"?><A xmlns="urn:x"><b>1 &lt; 2 &amp; &#x41;</b><c><item/><item>t</item></c></A>"#,
        )
        .unwrap();
        assert_eq!(root.name, "A");
        assert_eq!(root.children[0].text, "1 < 2 & A");
        assert_eq!(root.children[1].children.len(), 2);
        assert_eq!(parse(&root.render()).unwrap(), root);
        assert!(parse("<a><b></a>").is_err());
    }

    #[test]
    fn timestamps_are_iso_8601() {
        assert!(is_iso8601("2026-01-01T00:00:00.000Z"));
        assert!(is_iso8601("2026-01-01T00:00:00+02:00"));
        assert!(!is_iso8601("1767225600"));
        assert!(!is_iso8601("2026-01-01 00:00:00Z"));
    }
}
