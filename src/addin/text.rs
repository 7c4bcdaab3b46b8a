//! UTF-16 text across the boundary, and the case folding of member names.

use crate::error::Error;

/// Maximum length of a property or method name that lookups scan, in UTF-16
/// code units. The longest name is under 40; the bound stops a scan for the
/// terminator of a string the platform did not terminate.
const MAX_NAME_UNITS: usize = 256;

/// Maximum length of a string parameter or property value: 32768 UTF-16
/// code units, like the C ABI's limit of 32768 bytes for a setting value,
/// which fits long Windows paths.
pub(crate) const MAX_VALUE_UNITS: usize = 32 * 1024;

/// Encodes text as UTF-16 followed by a NUL.
pub(crate) fn to_utf16_nul(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(std::iter::once(0)).collect()
}

/// Reads a NUL-terminated name of at most [`MAX_NAME_UNITS`] units. Returns
/// None for NULL, a longer or unterminated string, or invalid UTF-16: no
/// member has such a name.
///
/// # Safety
/// `pointer` is NULL or points to UTF-16 readable up to its NUL or
/// `MAX_NAME_UNITS + 1` units, whichever comes first.
pub(crate) unsafe fn read_name(pointer: *const u16) -> Option<String> {
    if pointer.is_null() {
        return None;
    }
    let mut units = Vec::new();
    for index in 0..=MAX_NAME_UNITS {
        // SAFETY: the caller guarantees the units up to the NUL or the bound are readable.
        let unit = unsafe { pointer.add(index).read_unaligned() };
        if unit == 0 {
            return String::from_utf16(&units).ok();
        }
        units.push(unit);
    }
    None
}

/// Decodes a counted UTF-16 string of the platform.
///
/// # Safety
/// `data` points to `length` readable units, or `length` is 0.
pub(crate) unsafe fn read_counted(
    data: *const u16,
    length: u32,
    name: &str,
) -> Result<String, Error> {
    let length = length as usize;
    if length == 0 {
        return Ok(String::new());
    }
    if data.is_null() {
        return Err(Error::invalid_argument(format!(
            "{name} is a string of {length} characters without data"
        )));
    }
    if length > MAX_VALUE_UNITS {
        return Err(Error::invalid_argument(format!(
            "{name} is {length} characters long: expected at most {MAX_VALUE_UNITS}"
        )));
    }
    // SAFETY: the caller guarantees `length` readable units. The platform's
    // strings are aligned, but unaligned reads cost nothing here and hold
    // even if they were not.
    let units: Vec<u16> = (0..length)
        .map(|index| unsafe { data.add(index).read_unaligned() })
        .collect();
    String::from_utf16(&units).map_err(|_| {
        Error::invalid_argument(format!(
            "{name} is not valid UTF-16: it contains an unpaired surrogate"
        ))
    })
}

/// Folds a name for case-insensitive comparison. Unicode lowercase mapping
/// covers Cyrillic, so "ПРОВЕРИТЬБАЛЛЫ" and "проверитьБаллы" fold alike.
pub(crate) fn fold_case(name: &str) -> String {
    name.chars().flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_case_covers_cyrillic() {
        assert_eq!(fold_case("ПРОВЕРИТЬБАЛЛЫ"), fold_case("проверитьБаллы"));
        assert_eq!(fold_case("ИсходНеизвестен"), "исходнеизвестен");
        assert_eq!(fold_case("ЁЛКА"), "ёлка");
        assert_eq!(fold_case("CheckBonus"), "checkbonus");
    }

    #[test]
    fn read_name_stops_at_nul_and_bound() {
        let name = to_utf16_nul("СписатьБаллы");
        assert_eq!(
            unsafe { read_name(name.as_ptr()) }.as_deref(),
            Some("СписатьБаллы")
        );
        assert_eq!(unsafe { read_name(std::ptr::null()) }, None);

        let unterminated = vec![u16::from(b'a'); MAX_NAME_UNITS + 1];
        assert_eq!(unsafe { read_name(unterminated.as_ptr()) }, None);

        let lone_surrogate = [0xD800, 0];
        assert_eq!(unsafe { read_name(lone_surrogate.as_ptr()) }, None);
    }

    #[test]
    fn read_counted_checks_length_and_surrogates() {
        let text: Vec<u16> = "Ошибка".encode_utf16().collect();
        let decoded = unsafe { read_counted(text.as_ptr(), text.len() as u32, "note") }.unwrap();
        assert_eq!(decoded, "Ошибка");
        assert_eq!(
            unsafe { read_counted(std::ptr::null(), 0, "note") }.unwrap(),
            ""
        );

        let error = unsafe { read_counted(std::ptr::null(), 3, "note") }.unwrap_err();
        assert_eq!(
            error.message(),
            "note is a string of 3 characters without data"
        );

        let lone_surrogate = [u16::from(b'1'), 0xDC00];
        let error = unsafe { read_counted(lone_surrogate.as_ptr(), 2, "bonus_id") }.unwrap_err();
        assert_eq!(
            error.message(),
            "bonus_id is not valid UTF-16: it contains an unpaired surrogate"
        );
    }
}
