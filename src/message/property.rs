//! Typed JMS properties of a [`StoredMessage`].
//!
//! A property is a header whose value is the Java `toString()` of the value. When its sender
//! typed it (JMS `setIntProperty`, `setBooleanProperty`…), the [`PROPERTY_TYPES`] header
//! names the type by a one-letter tag: `name:i,flag:z`. The tags: `z` boolean, `b` byte,
//! `c` char, `s` short, `i` int, `l` long, `f` float, `d` double, and `x` a value its
//! protocol encoded itself (OpenWire's byte arrays, maps and lists), stored as hex. A
//! property without a tag (a STOMP header, a REST parameter) is a string.
//!
//! So a JMS consumer gets back the `Integer` its JMS producer sent, and a selector compares
//! numbers as numbers. A name with `,` or `:` cannot be tagged, and stays a string.

use super::StoredMessage;
pub use super::header::PROPERTY_TYPES;

/// The JMS type of a typed property (its tag in [`PROPERTY_TYPES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyType {
    Bool,
    Byte,
    Char,
    Short,
    Int,
    Long,
    Float,
    Double,
    /// Encoded by its protocol (OpenWire's marshalled byte array, map or list), kept as hex.
    Encoded,
}

impl PropertyType {
    pub fn tag(self) -> char {
        match self {
            PropertyType::Bool => 'z',
            PropertyType::Byte => 'b',
            PropertyType::Char => 'c',
            PropertyType::Short => 's',
            PropertyType::Int => 'i',
            PropertyType::Long => 'l',
            PropertyType::Float => 'f',
            PropertyType::Double => 'd',
            PropertyType::Encoded => 'x',
        }
    }

    pub fn from_tag(tag: char) -> Option<PropertyType> {
        Some(match tag {
            'z' => PropertyType::Bool,
            'b' => PropertyType::Byte,
            'c' => PropertyType::Char,
            's' => PropertyType::Short,
            'i' => PropertyType::Int,
            'l' => PropertyType::Long,
            'f' => PropertyType::Float,
            'd' => PropertyType::Double,
            'x' => PropertyType::Encoded,
            _ => return None,
        })
    }

    /// `byte`, `short`, `int`, `long`.
    pub fn is_integral(self) -> bool {
        matches!(self, PropertyType::Byte | PropertyType::Short | PropertyType::Int | PropertyType::Long)
    }

    /// `float`, `double`.
    pub fn is_floating(self) -> bool {
        matches!(self, PropertyType::Float | PropertyType::Double)
    }

    /// The value `text` stands for as this type; `None` when it is not one.
    pub fn parse(self, text: &str) -> Option<PropertyValue> {
        Some(match self {
            PropertyType::Bool => PropertyValue::Bool(text == "true"),
            PropertyType::Byte => PropertyValue::Byte(text.parse().ok()?),
            PropertyType::Char => PropertyValue::Char(*text.encode_utf16().collect::<Vec<_>>().first()?),
            PropertyType::Short => PropertyValue::Short(text.parse().ok()?),
            PropertyType::Int => PropertyValue::Int(text.parse().ok()?),
            PropertyType::Long => PropertyValue::Long(text.parse().ok()?),
            PropertyType::Float => PropertyValue::Float(text.parse().ok()?),
            PropertyType::Double => PropertyValue::Double(text.parse().ok()?),
            PropertyType::Encoded => {
                let bytes: Option<Vec<u8>> = (0..text.len())
                    .step_by(2)
                    .map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                    .collect();
                PropertyValue::Encoded(bytes?)
            }
        })
    }
}

/// A property's value, typed as its sender typed it.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValue {
    String(String),
    Bool(bool),
    Byte(i8),
    /// A UTF-16 code unit, as Java's `char`.
    Char(u16),
    Short(i16),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    /// Its protocol's own encoding ([`PropertyType::Encoded`]).
    Encoded(Vec<u8>),
}

impl PropertyValue {
    /// Its type; `None` for a string.
    pub fn property_type(&self) -> Option<PropertyType> {
        Some(match self {
            PropertyValue::String(_) => return None,
            PropertyValue::Bool(_) => PropertyType::Bool,
            PropertyValue::Byte(_) => PropertyType::Byte,
            PropertyValue::Char(_) => PropertyType::Char,
            PropertyValue::Short(_) => PropertyType::Short,
            PropertyValue::Int(_) => PropertyType::Int,
            PropertyValue::Long(_) => PropertyType::Long,
            PropertyValue::Float(_) => PropertyType::Float,
            PropertyValue::Double(_) => PropertyType::Double,
            PropertyValue::Encoded(_) => PropertyType::Encoded,
        })
    }

    /// The header text: Java's `toString()` of the value (hex for an encoded one).
    pub fn to_text(&self) -> String {
        match self {
            PropertyValue::String(s) => s.clone(),
            PropertyValue::Bool(b) => b.to_string(),
            PropertyValue::Byte(b) => b.to_string(),
            PropertyValue::Char(c) => String::from_utf16_lossy(&[*c]),
            PropertyValue::Short(s) => s.to_string(),
            PropertyValue::Int(i) => i.to_string(),
            PropertyValue::Long(l) => l.to_string(),
            PropertyValue::Float(f) => java_float(*f as f64, Some(*f)),
            PropertyValue::Double(d) => java_float(*d, None),
            PropertyValue::Encoded(bytes) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// Java's `String.valueOf(double)` (or, with `f32_digits`, of that `float`), near enough for
/// headers.
pub fn java_float(v: f64, f32_digits: Option<f32>) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let a = v.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = match f32_digits {
            Some(f) => format!("{f}"),
            None => format!("{v}"),
        };
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = match f32_digits {
            Some(f) => format!("{f:e}"),
            None => format!("{v:e}"),
        };
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') { m.to_string() } else { format!("{m}.0") };
        format!("{m}E{e}")
    }
}

/// Appends properties to a message's headers, one header each in order, then (when any is
/// typed) the [`PROPERTY_TYPES`] header naming their types.
pub fn append(headers: &mut Vec<(String, String)>, properties: impl IntoIterator<Item = (String, PropertyValue)>) {
    let mut tags = Vec::new();
    for (name, value) in properties {
        if let Some(t) = value.property_type().filter(|_| !name.contains([',', ':'])) {
            tags.push(format!("{name}:{}", t.tag()));
        }
        headers.push((name, value.to_text()));
    }
    if !tags.is_empty() {
        headers.push((PROPERTY_TYPES.into(), tags.join(",")));
    }
}

impl StoredMessage {
    /// The `(name, tag)` pairs [`PROPERTY_TYPES`] lists, in order, unknown tags included.
    fn tags(&self) -> Vec<(&str, char)> {
        self.header(PROPERTY_TYPES)
            .map(|t| {
                t.split(',')
                    .filter_map(|e| e.rsplit_once(':'))
                    .filter_map(|(k, t)| Some((k, t.chars().next()?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The properties its sender typed, with their types, as [`PROPERTY_TYPES`] lists them
    /// (one with an unknown tag is left out: it is a string).
    pub fn property_types(&self) -> Vec<(&str, PropertyType)> {
        self.tags().into_iter().filter_map(|(k, t)| Some((k, PropertyType::from_tag(t)?))).collect()
    }

    /// The type its sender gave property `name` (`None`: a string); the first entry for
    /// the name counts.
    pub fn property_type(&self, name: &str) -> Option<PropertyType> {
        type_in(&self.tags(), name)
    }

    /// Property `name`, typed; a string when untyped or when its text is not of its type.
    pub fn property(&self, name: &str) -> Option<PropertyValue> {
        let text = self.header(name)?;
        Some(typed(text, self.property_type(name)))
    }

    /// Every property ([`super::header::is_property`]), in order, with its type.
    pub fn properties(&self) -> Vec<Property<'_>> {
        let tags = self.tags();
        self.headers
            .iter()
            .filter(|(k, _)| super::header::is_property(k))
            .map(|(k, v)| Property { name: k, text: v, ty: type_in(&tags, k) })
            .collect()
    }
}

/// One property of a message: its header, and the type its sender gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property<'a> {
    pub name: &'a str,
    pub text: &'a str,
    /// `None`: a string.
    pub ty: Option<PropertyType>,
}

impl Property<'_> {
    /// Its value: typed, or a string when untyped or when its text is not of its type.
    pub fn value(&self) -> PropertyValue {
        typed(self.text, self.ty)
    }
}

fn type_in(tags: &[(&str, char)], name: &str) -> Option<PropertyType> {
    tags.iter().find(|(k, _)| *k == name).and_then(|(_, t)| PropertyType::from_tag(*t))
}

fn typed(text: &str, ty: Option<PropertyType>) -> PropertyValue {
    ty.and_then(|t| t.parse(text)).unwrap_or_else(|| PropertyValue::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_properties_round_trip_through_headers() {
        let mut headers = vec![("color".to_string(), "red".to_string())];
        append(
            &mut headers,
            [
                ("n".to_string(), PropertyValue::Int(42)),
                ("flag".into(), PropertyValue::Bool(true)),
                ("ratio".into(), PropertyValue::Double(1e10)),
                ("f".into(), PropertyValue::Float(0.1)),
                ("a:b".into(), PropertyValue::Long(1)),
                ("raw".into(), PropertyValue::Encoded(vec![0, 0xab])),
                ("who".into(), PropertyValue::String("x".into())),
            ],
        );
        assert_eq!(headers.last().unwrap().1, "n:i,flag:z,ratio:d,f:f,raw:x");
        let m = StoredMessage {
            seq: 1,
            destination: "/queue/q".into(),
            headers,
            body: Vec::new(),
            persistent: false,
            timestamp: 0,
            redelivery_count: 0,
            producer: None,
        };
        assert_eq!(m.header("ratio"), Some("1.0E10"));
        assert_eq!(m.property("n"), Some(PropertyValue::Int(42)));
        assert_eq!(m.property("ratio"), Some(PropertyValue::Double(1e10)));
        assert_eq!(m.property("f"), Some(PropertyValue::Float(0.1)));
        assert_eq!(m.property("raw"), Some(PropertyValue::Encoded(vec![0, 0xab])));
        assert_eq!(m.property("a:b"), Some(PropertyValue::String("1".into())), "untaggable: a string");
        assert_eq!(m.property("color"), Some(PropertyValue::String("red".into())));
        assert_eq!(m.property("nope"), None);
        assert_eq!(m.property_type("flag"), Some(PropertyType::Bool));
        let props = m.properties();
        let names: Vec<&str> = props.iter().map(|p| p.name).collect();
        assert_eq!(names, ["color", "n", "flag", "ratio", "f", "a:b", "raw", "who"]);
        assert_eq!(props[1].value(), PropertyValue::Int(42));
        assert_eq!((props[0].ty, props[0].value()), (None, PropertyValue::String("red".into())));
    }

    #[test]
    fn a_text_not_of_its_type_is_a_string() {
        assert_eq!(PropertyType::Byte.parse("300"), None);
        assert_eq!(PropertyType::Encoded.parse("abc"), None);
        assert_eq!(PropertyType::Char.parse(""), None);
        assert_eq!(typed("300", Some(PropertyType::Byte)), PropertyValue::String("300".into()));
        assert_eq!(java_float(1.0, None), "1.0");
        assert_eq!(java_float(1e10, None), "1.0E10");
        assert_eq!(PropertyType::Double.parse("1.0E10"), Some(PropertyValue::Double(1e10)));
        for t in "zbcsilfdx".chars() {
            assert_eq!(PropertyType::from_tag(t).map(PropertyType::tag), Some(t));
        }
    }
}
