//! The 1C:Enterprise 8.3 native component ("Native API"): the same shared
//! library loads in 1C with
//! `ПодключитьВнешнююКомпоненту(Путь, "Esbyt", ТипВнешнейКомпоненты.Native)`
//! and offers one class, created as `Новый("AddIn.Esbyt.Bonus")`. It is a
//! second skin over [`crate::Client`], beside the C ABI of `crate::ffi`.
//!
//! The binary layer is written here rather than taken from a crate:
//!
//! - `addin1c` 0.7 (its low-level `ffi` layer, dependencies `smallvec` and
//!   `utf16_lit`) decodes parameters of types I4, R8, Boolean, date, string
//!   and binary data only. It returns "empty" for I2, I8, R4 and the
//!   unsigned types, so such a number would look like an omitted parameter.
//!   It reads `vt` into a Rust enum, which is undefined behaviour for a code
//!   the enum lacks, and its vtable functions call the component without
//!   `catch_unwind`.
//! - `native_api_1c` 0.10 brings `syn`, `quote` and `chrono` into the
//!   library's runtime dependencies, and catches no panics either.
//!
//! Both lay out the vtables as this module does (two destructor slots on
//! Itanium C++ ABI targets, one on Windows, `extern "system"` methods). The
//! own layer adds no dependency, decodes every numeric type, and guards
//! every entry point.
//!
//! Files: `abi` declares the binary interface, `object` implements the
//! component object and its vtables, `members` lists the properties and
//! methods, `value` converts values, `bonus` keeps the state and calls the
//! client, `platform` calls the platform's memory manager and connection.

mod abi;
mod bonus;
mod json;
mod members;
mod object;
mod platform;
mod text;
mod value;

use std::ffi::{c_int, c_long, c_void};

use abi::{APP_CAPABILITIES_LAST, CAN_ATTACH_ANY};
use object::CLASS_NAME;
use text::read_name;

/// `GetClassNames`' list of classes, "Bonus" as NUL-terminated UTF-16. The
/// platform reads it and does not free it.
static CLASS_NAMES: [u16; 6] = utf16_ascii(b"Bonus\0");

const fn utf16_ascii<const N: usize>(text: &[u8; N]) -> [u16; N] {
    let mut units = [0u16; N];
    let mut index = 0;
    while index < N {
        units[index] = text[index] as u16;
        index += 1;
    }
    units
}

/// Returns the names of the component's classes, separated by `|`: one
/// class, `Bonus`. The string is static.
#[unsafe(no_mangle)]
#[allow(non_snake_case)]
pub extern "C" fn GetClassNames() -> *const u16 {
    CLASS_NAMES.as_ptr()
}

/// Creates an object of the class `class_name` (`Bonus`, in any letter case)
/// and stores it in `*interface`. Returns 1 on success and 0 for an unknown
/// class or a NULL argument; the object is freed by `DestroyObject`.
///
/// # Safety
/// `class_name` is NULL or a NUL-terminated UTF-16 string; `interface` is
/// NULL or writable.
#[unsafe(no_mangle)]
#[allow(non_snake_case)]
pub unsafe extern "C" fn GetClassObject(
    class_name: *const u16,
    interface: *mut *mut c_void,
) -> c_long {
    std::panic::catch_unwind(|| {
        // SAFETY: the caller passes NULL or a NUL-terminated string.
        let name = unsafe { read_name(class_name) };
        let known = name.is_some_and(|name| name.eq_ignore_ascii_case(CLASS_NAME));
        if !known || interface.is_null() {
            return 0;
        }
        let object = object::create();
        // SAFETY: checked for NULL; the caller guarantees it is writable.
        unsafe { interface.write_unaligned(object.cast()) };
        1
    })
    .unwrap_or(0)
}

/// Destroys an object created by `GetClassObject` and sets `*interface` to
/// NULL. Returns 0 on success and -1 for NULL, an object of another origin or
/// one already destroyed, which are left untouched.
///
/// # Safety
/// `interface` is NULL or points to a readable and writable pointer; no
/// method of the object runs or starts after this call.
#[unsafe(no_mangle)]
#[allow(non_snake_case)]
pub unsafe extern "C" fn DestroyObject(interface: *mut *mut c_void) -> c_long {
    std::panic::catch_unwind(|| {
        if interface.is_null() {
            return -1;
        }
        // SAFETY: checked for NULL; the caller guarantees it is readable.
        let object = unsafe { interface.read_unaligned() };
        // SAFETY: the caller guarantees no method of the object runs any more.
        if !unsafe { object::destroy(object) } {
            return -1;
        }
        // SAFETY: as above, and writable.
        unsafe { interface.write_unaligned(std::ptr::null_mut()) };
        0
    })
    .unwrap_or(-1)
}

/// Receives the platform's capabilities level and returns the level the
/// component supports. The component calls no interface that a level adds
/// (message boxes, platform information), so any level works.
#[unsafe(no_mangle)]
#[allow(non_snake_case)]
pub extern "C" fn SetPlatformCapabilities(_capabilities: c_int) -> c_int {
    APP_CAPABILITIES_LAST
}

/// Returns `eCanAttachAny`: the component may run in the platform's process
/// or in a separate process ("isolated" attachment).
#[unsafe(no_mangle)]
#[allow(non_snake_case)]
pub extern "C" fn GetAttachType() -> c_int {
    CAN_ATTACH_ANY
}
