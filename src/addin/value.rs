//! Values from and to 1C: decoding `tVariant` parameters into [`Value`], the
//! conversions the component accepts, and writing [`Output`] into a
//! `tVariant` with strings allocated by the platform.

use std::fmt;

use super::abi::{TVariant, vt};
use super::platform::MemoryManager;
use super::text::read_counted;
use crate::error::{Error, Status};

/// Largest integer up to which a double, and so a 1C number returned as
/// `VTYPE_R8`, represents every integer exactly: 2^53.
const MAX_EXACT_DOUBLE: i64 = 1 << 53;

/// A value the platform passed, decoded.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// `Неопределено` (`VTYPE_EMPTY`), or an omitted parameter.
    Empty,
    /// `NULL` (`VTYPE_NULL`).
    Null,
    Bool(bool),
    /// Any integer type, signed or unsigned, 8 to 64 bits.
    Integer(i128),
    /// `VTYPE_R4` or `VTYPE_R8`. 1C passes numbers with a fraction, or too
    /// large for 32 bits, this way.
    Float(f64),
    /// `VTYPE_PWSTR`, or `VTYPE_PSTR` holding UTF-8.
    Text(String),
    /// Another type, such as a date or binary data, by its `vt` code.
    Unsupported(u16),
}

impl Value {
    /// Decodes a variant the platform owns. Strings are copied, so nothing
    /// of the variant is kept.
    ///
    /// # Safety
    /// `variant` is a valid `tVariant` whose pointers, for its type, point to
    /// readable memory of the stated length.
    pub unsafe fn read(variant: &TVariant, name: &str) -> Result<Value, Error> {
        // SAFETY (every union read below): the platform sets the member that `vt` names.
        let value = unsafe {
            match variant.vt {
                vt::EMPTY => Value::Empty,
                vt::NULL => Value::Null,
                // Read as a byte: any value other than 0 or 1 in a Rust bool
                // is undefined behaviour, and C code may pass one.
                vt::BOOL => Value::Bool(variant.value.u8 != 0),
                vt::I1 => Value::Integer(variant.value.i8.into()),
                vt::I2 => Value::Integer(variant.value.i16.into()),
                vt::I4 => Value::Integer(variant.value.i32.into()),
                vt::I8 => Value::Integer(variant.value.i64.into()),
                vt::UI1 => Value::Integer(variant.value.u8.into()),
                vt::UI2 => Value::Integer(variant.value.u16.into()),
                vt::UI4 => Value::Integer(variant.value.u32.into()),
                vt::UI8 => Value::Integer(variant.value.u64.into()),
                vt::INT => Value::Integer(variant.value.int.into()),
                vt::UINT => Value::Integer(variant.value.uint.into()),
                vt::R4 => Value::Float(variant.value.f32.into()),
                vt::R8 => Value::Float(variant.value.f64),
                vt::PWSTR => {
                    let wstr = variant.value.wstr;
                    Value::Text(read_counted(wstr.data, wstr.length, name)?)
                }
                vt::PSTR => Value::Text(read_narrow(variant, name)?),
                other => Value::Unsupported(other),
            }
        };
        Ok(value)
    }

    /// Returns the 1C name of the value's type, for messages.
    pub fn type_name(&self) -> String {
        match self {
            Value::Empty => "Undefined (Неопределено)".to_owned(),
            Value::Null => "Null".to_owned(),
            Value::Bool(_) => "Boolean (Булево)".to_owned(),
            Value::Integer(_) | Value::Float(_) => "Number (Число)".to_owned(),
            Value::Text(_) => "String (Строка)".to_owned(),
            Value::Unsupported(code) => unsupported_type_name(*code),
        }
    }

    /// Converts a number, or a string holding one, to an integer. A fraction,
    /// a value beyond 64 bits, another type or a missing value is an
    /// invalid-argument error naming `name`.
    pub fn to_integer(&self, name: &str) -> Result<i64, Error> {
        match self {
            Value::Integer(number) => {
                i64::try_from(*number).map_err(|_| out_of_range(name, number))
            }
            Value::Float(number) => float_to_integer(*number, name),
            Value::Text(text) => text_to_integer(text, name),
            Value::Empty | Value::Null => Err(missing(name)),
            other => Err(wrong_type(name, other, "a number")),
        }
    }

    /// Converts a participant id: a string as it is, or a whole number in
    /// decimal. Leading zeros of a card number survive only in a string.
    pub fn to_bonus_id(&self, name: &str) -> Result<String, Error> {
        match self {
            Value::Text(text) => Ok(text.clone()),
            Value::Integer(_) | Value::Float(_) => Ok(self.to_integer(name)?.to_string()),
            Value::Empty | Value::Null => Err(missing(name)),
            other => Err(wrong_type(name, other, "a string of digits")),
        }
    }

    /// Returns a string value. `Неопределено` and `NULL` give `default`, or
    /// a missing-value error when there is none.
    pub fn to_text(&self, name: &str, default: Option<&str>) -> Result<String, Error> {
        match (self, default) {
            (Value::Text(text), _) => Ok(text.clone()),
            (Value::Empty | Value::Null, Some(default)) => Ok(default.to_owned()),
            (Value::Empty | Value::Null, None) => Err(missing(name)),
            (other, _) => Err(wrong_type(name, other, "a string")),
        }
    }
}

/// Decodes `VTYPE_PSTR`, a counted byte string, as UTF-8.
///
/// # Safety
/// As for [`Value::read`], with `vt` equal to `VTYPE_PSTR`.
unsafe fn read_narrow(variant: &TVariant, name: &str) -> Result<String, Error> {
    // SAFETY: the caller guarantees that `str` is the member set.
    let narrow = unsafe { variant.value.str };
    let length = narrow.length as usize;
    if length == 0 {
        return Ok(String::new());
    }
    if narrow.data.is_null() || length > super::text::MAX_VALUE_UNITS {
        return Err(Error::invalid_argument(format!(
            "{name} is a byte string of {length} bytes without data or longer than {}",
            super::text::MAX_VALUE_UNITS
        )));
    }
    // SAFETY: the caller guarantees `length` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(narrow.data.cast::<u8>(), length) };
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::invalid_argument(format!("{name} is a byte string that is not UTF-8")))
}

fn unsupported_type_name(code: u16) -> String {
    match code {
        vt::DATE | vt::TM => "Date (Дата)".to_owned(),
        vt::BLOB => "BinaryData (ДвоичныеДанные)".to_owned(),
        vt::INTERFACE | vt::VARIANT | vt::CLSID => format!("an object (Native API type {code})"),
        vt::ERROR | vt::HRESULT => format!("an error code (Native API type {code})"),
        other => format!("a value of Native API type {other}"),
    }
}

fn missing(name: &str) -> Error {
    Error::invalid_argument(format!("{name} is missing"))
}

fn wrong_type(name: &str, value: &Value, expected: &str) -> Error {
    Error::invalid_argument(format!(
        "{name} is {}: expected {expected}",
        value.type_name()
    ))
}

fn out_of_range(name: &str, number: &dyn fmt::Display) -> Error {
    Error::invalid_argument(format!(
        "{name} {number} is out of range: expected an integer from {} to {}",
        i64::MIN,
        i64::MAX
    ))
}

fn float_to_integer(number: f64, name: &str) -> Result<i64, Error> {
    if !number.is_finite() {
        return Err(Error::invalid_argument(format!(
            "{name} {number} is not a finite number"
        )));
    }
    if number.fract() != 0.0 {
        return Err(Error::invalid_argument(format!(
            "{name} {number} is invalid: expected a whole number"
        )));
    }
    // i64::MAX is not exactly representable; 2^63 is the first double beyond it.
    let limit = 2f64.powi(63);
    if !(-limit..limit).contains(&number) {
        return Err(out_of_range(name, &number));
    }
    Ok(number as i64)
}

/// Parses an integer that arrived as a string, as the web client may send
/// numbers: an optional sign, digits, optionally grouped by spaces (1C's
/// `Строка(1000)` gives "1 000" with a no-break space), and optionally a
/// zero fraction after `.` or `,`.
fn text_to_integer(text: &str, name: &str) -> Result<i64, Error> {
    let invalid = || {
        Error::invalid_argument(format!(
            "{name} {text:?} is invalid: expected a whole number"
        ))
    };
    let compact: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .collect();
    let (whole, fraction) = match compact.find(['.', ',']) {
        Some(index) => (&compact[..index], &compact[index + 1..]),
        None => (compact.as_str(), ""),
    };
    let unsigned = whole.strip_prefix(['+', '-']).unwrap_or(whole);
    if unsigned.is_empty()
        || !unsigned.bytes().all(|byte| byte.is_ascii_digit())
        || !fraction.bytes().all(|byte| byte.is_ascii_digit())
    {
        return Err(invalid());
    }
    if fraction.bytes().any(|byte| byte != b'0') {
        return Err(invalid());
    }
    whole
        .parse::<i64>()
        .map_err(|_| out_of_range(name, &text.trim()))
}

/// A value returned to the platform.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Output {
    /// `Неопределено`.
    Empty,
    Bool(bool),
    /// Returned as `VTYPE_I4` when it fits, otherwise as `VTYPE_R8`.
    Integer(i64),
    /// Returned as `VTYPE_PWSTR` in memory from the platform's memory manager.
    Text(String),
}

impl Output {
    /// Writes the value into a variant the platform passed for the result.
    /// The variant's previous content is overwritten, never freed: it is the
    /// platform's.
    ///
    /// # Safety
    /// `target` points to a writable `tVariant`.
    pub unsafe fn write(&self, target: *mut TVariant, memory: &MemoryManager) -> Result<(), Error> {
        let mut variant = TVariant::empty();
        match self {
            Output::Empty => {}
            Output::Bool(value) => {
                variant.vt = vt::BOOL;
                variant.value.boolean = *value;
            }
            Output::Integer(value) => match i32::try_from(*value) {
                Ok(small) => {
                    variant.vt = vt::I4;
                    variant.value.i32 = small;
                }
                Err(_) if value.unsigned_abs() <= MAX_EXACT_DOUBLE.unsigned_abs() => {
                    variant.vt = vt::R8;
                    variant.value.f64 = *value as f64;
                }
                Err(_) => {
                    return Err(Error::new(
                        Status::Protocol,
                        format!(
                            "{value} is beyond 2^53, the largest integer a number from a component holds exactly in 1C"
                        ),
                    ));
                }
            },
            Output::Text(text) => {
                let (data, length) = memory.alloc_utf16(text)?;
                variant.vt = vt::PWSTR;
                variant.value.wstr.data = data;
                variant.value.wstr.length = length;
            }
        }
        // SAFETY: the caller guarantees `target` is writable.
        unsafe { target.write_unaligned(variant) };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_from_every_numeric_form() {
        let cases = [
            (Value::Integer(10), 10),
            (Value::Integer(-5), -5),
            (Value::Float(10.0), 10),
            (Value::Float(-0.0), 0),
            (Value::Float(2_700_009_601_205.0), 2_700_009_601_205),
            (Value::Text("10".into()), 10),
            (Value::Text(" +10 ".into()), 10),
            (Value::Text("-7".into()), -7),
            (Value::Text("10.00".into()), 10),
            (Value::Text("10,0".into()), 10),
            (Value::Text("1\u{a0}000".into()), 1000),
            (Value::Text("1 000 000".into()), 1_000_000),
        ];
        for (value, expected) in cases {
            assert_eq!(value.to_integer("amount").unwrap(), expected, "{value:?}");
        }
    }

    #[test]
    fn integers_reject_fractions_and_out_of_range() {
        let cases = [
            (
                Value::Float(10.5),
                "amount 10.5 is invalid: expected a whole number",
            ),
            (Value::Float(f64::NAN), "amount NaN is not a finite number"),
            (
                Value::Float(f64::INFINITY),
                "amount inf is not a finite number",
            ),
            (
                Value::Float(1e19),
                "amount 10000000000000000000 is out of range: expected an integer from -9223372036854775808 to 9223372036854775807",
            ),
            (
                Value::Integer(u64::MAX.into()),
                "amount 18446744073709551615 is out of range: expected an integer from -9223372036854775808 to 9223372036854775807",
            ),
            (
                Value::Text("10.5".into()),
                "amount \"10.5\" is invalid: expected a whole number",
            ),
            (
                Value::Text("abc".into()),
                "amount \"abc\" is invalid: expected a whole number",
            ),
            (
                Value::Text("".into()),
                "amount \"\" is invalid: expected a whole number",
            ),
            (
                Value::Text("-".into()),
                "amount \"-\" is invalid: expected a whole number",
            ),
            (
                Value::Text("1e3".into()),
                "amount \"1e3\" is invalid: expected a whole number",
            ),
            (
                Value::Text("99999999999999999999".into()),
                "amount 99999999999999999999 is out of range: expected an integer from -9223372036854775808 to 9223372036854775807",
            ),
            (Value::Empty, "amount is missing"),
            (
                Value::Bool(true),
                "amount is Boolean (Булево): expected a number",
            ),
            (
                Value::Unsupported(vt::TM),
                "amount is Date (Дата): expected a number",
            ),
        ];
        for (value, expected) in cases {
            let error = value.to_integer("amount").unwrap_err();
            assert_eq!(error.status(), Status::InvalidArgument, "{value:?}");
            assert_eq!(error.message(), expected, "{value:?}");
        }
    }

    #[test]
    fn bonus_id_from_string_or_number() {
        assert_eq!(
            Value::Text("0012".into()).to_bonus_id("bonus_id").unwrap(),
            "0012"
        );
        assert_eq!(
            Value::Float(2_700_009_601_205.0)
                .to_bonus_id("bonus_id")
                .unwrap(),
            "2700009601205"
        );
        let error = Value::Bool(false).to_bonus_id("bonus_id").unwrap_err();
        assert_eq!(
            error.message(),
            "bonus_id is Boolean (Булево): expected a string of digits"
        );
    }

    #[test]
    fn text_defaults_only_where_allowed() {
        assert_eq!(Value::Empty.to_text("note", Some("")).unwrap(), "");
        assert_eq!(
            Value::Empty
                .to_text("attempt_id", None)
                .unwrap_err()
                .message(),
            "attempt_id is missing"
        );
        assert_eq!(
            Value::Integer(5)
                .to_text("Url", Some(""))
                .unwrap_err()
                .message(),
            "Url is Number (Число): expected a string"
        );
    }
}
