//! Strings across the boundary: bounded reading of NUL-terminated UTF-8
//! input, and copying text into fixed-size NUL-terminated arrays.

use std::ffi::{CStr, c_char};

use crate::error::Error;

/// Reads a NUL-terminated UTF-8 string of at most `max_bytes` bytes.
///
/// The scan for the terminator stops after `max_bytes`, so a buffer the host
/// forgot to terminate is reported instead of being read without bound.
///
/// # Safety
/// `pointer` is NULL or points to memory readable up to its NUL terminator
/// or `max_bytes + 1` bytes, whichever comes first.
pub(crate) unsafe fn read_str<'a>(
    pointer: *const c_char,
    name: &str,
    max_bytes: usize,
) -> Result<&'a str, Error> {
    if pointer.is_null() {
        return Err(Error::invalid_argument(format!("{name} is NULL")));
    }
    // SAFETY: the caller guarantees the memory is readable up to the NUL or
    // max_bytes + 1 bytes, and strnlen reads no further than that.
    let length = unsafe { libc::strnlen(pointer, max_bytes + 1) };
    if length > max_bytes {
        return Err(Error::invalid_argument(format!(
            "{name} is longer than {max_bytes} bytes or not NUL-terminated"
        )));
    }
    // SAFETY: strnlen found a NUL at `length`, within readable memory.
    let bytes = unsafe { CStr::from_ptr(pointer) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|error| {
        Error::invalid_argument(format!(
            "{name} is not valid UTF-8 (invalid byte at offset {}); pass text encoded as UTF-8",
            error.valid_up_to()
        ))
    })
}

/// Copies a value into a NUL-terminated array. A value that does not fit is
/// an error rather than a silent truncation, because a cut account or
/// write-off number is a wrong number.
pub(crate) fn copy_value<const N: usize>(
    target: &mut [c_char; N],
    value: &str,
    name: &str,
) -> Result<(), Error> {
    if value.len() >= N {
        return Err(Error::protocol(format!(
            "{name} {value:?} is {} bytes long and does not fit its {N}-byte field",
            value.len()
        )));
    }
    copy_bytes(target, value.as_bytes());
    Ok(())
}

/// Copies a message into a NUL-terminated array, truncated on a UTF-8
/// character boundary when it does not fit. Returns the full length in bytes.
pub(crate) fn copy_message<const N: usize>(target: &mut [c_char; N], message: &str) -> usize {
    let mut end = message.len().min(N - 1);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    copy_bytes(target, &message.as_bytes()[..end]);
    message.len()
}

fn copy_bytes<const N: usize>(target: &mut [c_char; N], bytes: &[u8]) {
    for (slot, &byte) in target.iter_mut().zip(bytes) {
        *slot = byte as c_char;
    }
    for slot in target.iter_mut().skip(bytes.len()) {
        *slot = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;

    fn text<const N: usize>(array: &[c_char; N]) -> String {
        let bytes: Vec<u8> = array
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn read_str_checks() {
        let ok = c"2700009601205";
        assert_eq!(
            unsafe { read_str(ok.as_ptr(), "bonus_id", 64) }.unwrap(),
            "2700009601205"
        );

        let error = unsafe { read_str(std::ptr::null(), "bonus_id", 64) }.unwrap_err();
        assert_eq!(error.message(), "bonus_id is NULL");

        let long = c"12345678901";
        let error = unsafe { read_str(long.as_ptr(), "bonus_id", 10) }.unwrap_err();
        assert_eq!(
            error.message(),
            "bonus_id is longer than 10 bytes or not NUL-terminated"
        );
        assert!(unsafe { read_str(long.as_ptr(), "bonus_id", 11) }.is_ok());

        let invalid = c"12\xff34";
        let error = unsafe { read_str(invalid.as_ptr(), "bonus_id", 64) }.unwrap_err();
        assert_eq!(error.status(), Status::InvalidArgument);
        assert!(
            error
                .message()
                .contains("not valid UTF-8 (invalid byte at offset 2)"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn copy_value_fits_or_fails() {
        let mut field = [1 as c_char; 8];
        copy_value(&mut field, "0000005", "spend_id").unwrap();
        assert_eq!(text(&field), "0000005");
        assert_eq!(field[7], 0);

        let error = copy_value(&mut field, "00000005", "spend_id").unwrap_err();
        assert_eq!(error.status(), Status::Protocol);
        assert!(
            error.message().contains("does not fit its 8-byte field"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn copy_message_truncates_on_character_boundary() {
        let mut field = [1 as c_char; 8];
        // "Ошибка" is 12 bytes: 7 fit, and byte 7 would split a character.
        let full = copy_message(&mut field, "Ошибка");
        assert_eq!(full, 12);
        assert_eq!(text(&field), "Оши");
        assert!(field[6..].iter().all(|&c| c == 0));

        let full = copy_message(&mut field, "ok");
        assert_eq!(full, 2);
        assert_eq!(text(&field), "ok");
    }
}
