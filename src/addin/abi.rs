//! The binary interface of 1C:Enterprise Native API components: `tVariant`,
//! the vtables of the component object, and the platform's memory manager and
//! connection interfaces. The declarations follow the public headers
//! `types.h`, `ComponentBase.h`, `AddInDefBase.h` and `IMemoryManager.h` that
//! 1C ships with its add-in template, read as reproduced in
//! github.com/medigor/addin1c (`addin1c-test/include`). Nothing here is
//! copied from them.
//!
//! The C++ interfaces are classes with virtual functions only, so an object is
//! a pointer to a table of function pointers. Two rules of the C++ ABIs shape
//! the tables:
//!
//! - A virtual destructor takes two slots under the Itanium C++ ABI (Linux,
//!   macOS: the complete-object and the deleting destructor) and one slot
//!   under MSVC (Windows: the scalar deleting destructor).
//! - `IComponentBase` inherits four interfaces, so the object starts with four
//!   table pointers, and the platform passes a method of the second interface
//!   a `this` that points at the second table pointer, and so on.
//!
//! Every method is declared `ADDIN_API`, which is `__stdcall` on Windows and
//! nothing elsewhere: `extern "system"` with `this` as the first argument is
//! exactly that on every target. Strings are `WCHAR_T`, which the headers
//! define as `char16_t` on every platform, so they are UTF-16 even on Linux,
//! where `wchar_t` is 4 bytes.

use std::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_ushort, c_void};

/// Type codes of `tVariant::vt` (`ENUMVAR` in types.h).
pub(crate) mod vt {
    pub(crate) const EMPTY: u16 = 0;
    pub(crate) const NULL: u16 = 1;
    pub(crate) const I2: u16 = 2;
    pub(crate) const I4: u16 = 3;
    pub(crate) const R4: u16 = 4;
    pub(crate) const R8: u16 = 5;
    pub(crate) const DATE: u16 = 6;
    pub(crate) const TM: u16 = 7;
    pub(crate) const PSTR: u16 = 8;
    pub(crate) const INTERFACE: u16 = 9;
    pub(crate) const ERROR: u16 = 10;
    pub(crate) const BOOL: u16 = 11;
    pub(crate) const VARIANT: u16 = 12;
    pub(crate) const I1: u16 = 13;
    pub(crate) const UI1: u16 = 14;
    pub(crate) const UI2: u16 = 15;
    pub(crate) const UI4: u16 = 16;
    pub(crate) const I8: u16 = 17;
    pub(crate) const UI8: u16 = 18;
    pub(crate) const INT: u16 = 19;
    pub(crate) const UINT: u16 = 20;
    pub(crate) const HRESULT: u16 = 21;
    pub(crate) const PWSTR: u16 = 22;
    pub(crate) const BLOB: u16 = 23;
    pub(crate) const CLSID: u16 = 24;
}

/// `ADDIN_E_FAIL`, the `AddError` code of a failure.
pub(crate) const ADDIN_E_FAIL: c_ushort = 1006;

/// `E_FAIL`, the generic failure HRESULT, passed as the `scode` of `AddError`.
pub(crate) const E_FAIL: c_long = 0x8000_4005_u32 as i32 as c_long;

/// `eAppCapabilities3`, the newest capabilities level that the headers define.
pub(crate) const APP_CAPABILITIES_LAST: c_int = 3;

/// `eCanAttachAny`: the component may run inside the platform's process or in
/// a separate one.
pub(crate) const CAN_ATTACH_ANY: c_int = 3;

/// A pointer and a length, as in the `str` and `wstr` members of `tVariant`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Counted<T> {
    pub data: *mut T,
    /// Bytes for `str`, UTF-16 code units without the terminating NUL for `wstr`.
    pub length: u32,
}

/// The value of a `tVariant`, selected by its `vt`. Members that the
/// component never reads still set the size and alignment of the union.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(dead_code)]
pub(crate) union VariantValue {
    pub i8: i8,
    pub i16: i16,
    pub i32: i32,
    pub i64: i64,
    pub u8: u8,
    pub u16: u16,
    pub u32: u32,
    pub u64: u64,
    pub int: c_int,
    pub uint: c_uint,
    pub error_code: i32,
    pub hresult: c_long,
    pub f32: f32,
    pub f64: f64,
    pub boolean: bool,
    /// `struct tm` of the C library, whose size sets the size of the union:
    /// 56 bytes on Linux x86_64, 36 on Windows.
    pub tm: libc::tm,
    pub pointer: *mut c_void,
    pub str: Counted<c_char>,
    pub wstr: Counted<u16>,
}

/// `tVariant`: a value passed between the platform and the component.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct TVariant {
    pub value: VariantValue,
    /// `cbElements`, the length of an array in `pvarVal`. The component does not use it.
    pub elements: u32,
    pub vt: u16,
}

impl TVariant {
    /// Returns a variant of type `VTYPE_EMPTY` with every byte zero, as `tVarInit` makes it.
    pub fn empty() -> TVariant {
        // SAFETY: every field is an integer, a float, a pointer or bool, for
        // which all-zero bytes are a valid value.
        unsafe { std::mem::zeroed() }
    }
}

// The layout the platform uses on Linux x86_64, which the harness in
// tests/addin/harness.cpp checks from C++ as well.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const _: () = {
    assert!(size_of::<TVariant>() == 64);
    assert!(std::mem::offset_of!(TVariant, elements) == 56);
    assert!(std::mem::offset_of!(TVariant, vt) == 60);
};

// NOTE: derived from the C layout rules and not built here. MSVC aligns
// doubles to 8 bytes and has a 36-byte `struct tm`, so the union takes 40
// bytes; 32-bit Linux aligns doubles to 4 bytes and has a 44-byte `struct tm`.
#[cfg(all(windows, any(target_arch = "x86_64", target_arch = "x86")))]
const _: () = {
    assert!(size_of::<TVariant>() == 48);
    assert!(std::mem::offset_of!(TVariant, vt) == 44);
};
#[cfg(all(target_os = "linux", target_arch = "x86"))]
const _: () = {
    assert!(size_of::<TVariant>() == 52);
    assert!(std::mem::offset_of!(TVariant, vt) == 48);
};

/// Number of vtable slots that a virtual destructor takes.
#[cfg(not(windows))]
pub(crate) const DESTRUCTOR_SLOTS: usize = 2;
#[cfg(windows)]
pub(crate) const DESTRUCTOR_SLOTS: usize = 1;

/// A destructor slot of the component's vtables. The platform destroys
/// objects with `DestroyObject` and not through these slots, so they do
/// nothing. They exist so that a stray call returns instead of jumping to
/// address 0.
#[cfg(not(windows))]
pub(crate) type Destructor = unsafe extern "C" fn(*mut c_void);
#[cfg(all(windows, target_arch = "x86"))]
pub(crate) type Destructor = unsafe extern "thiscall" fn(*mut c_void, c_uint) -> *mut c_void;
#[cfg(all(windows, not(target_arch = "x86")))]
pub(crate) type Destructor = unsafe extern "C" fn(*mut c_void, c_uint) -> *mut c_void;

#[cfg(not(windows))]
unsafe extern "C" fn ignored_destructor(_this: *mut c_void) {}
#[cfg(all(windows, target_arch = "x86"))]
unsafe extern "thiscall" fn ignored_destructor(this: *mut c_void, _flags: c_uint) -> *mut c_void {
    this
}
#[cfg(all(windows, not(target_arch = "x86")))]
unsafe extern "C" fn ignored_destructor(this: *mut c_void, _flags: c_uint) -> *mut c_void {
    this
}

/// The destructor slots of every vtable the component provides.
pub(crate) const DESTRUCTORS: [Destructor; DESTRUCTOR_SLOTS] =
    [ignored_destructor; DESTRUCTOR_SLOTS];

/// `IInitDoneBase`, the first interface of the component object.
#[repr(C)]
pub(crate) struct InitDoneVtable {
    pub destructors: [Destructor; DESTRUCTOR_SLOTS],
    pub init: unsafe extern "system" fn(*mut c_void, *mut c_void) -> bool,
    pub set_mem_manager: unsafe extern "system" fn(*mut c_void, *mut c_void) -> bool,
    pub get_info: unsafe extern "system" fn(*mut c_void) -> c_long,
    pub done: unsafe extern "system" fn(*mut c_void),
}

/// `ILanguageExtenderBase`, the second interface: properties and methods.
#[repr(C)]
pub(crate) struct LanguageExtenderVtable {
    pub destructors: [Destructor; DESTRUCTOR_SLOTS],
    pub register_extension_as: unsafe extern "system" fn(*mut c_void, *mut *mut u16) -> bool,
    pub get_n_props: unsafe extern "system" fn(*mut c_void) -> c_long,
    pub find_prop: unsafe extern "system" fn(*mut c_void, *const u16) -> c_long,
    pub get_prop_name: unsafe extern "system" fn(*mut c_void, c_long, c_long) -> *const u16,
    pub get_prop_val: unsafe extern "system" fn(*mut c_void, c_long, *mut TVariant) -> bool,
    pub set_prop_val: unsafe extern "system" fn(*mut c_void, c_long, *mut TVariant) -> bool,
    pub is_prop_readable: unsafe extern "system" fn(*mut c_void, c_long) -> bool,
    pub is_prop_writable: unsafe extern "system" fn(*mut c_void, c_long) -> bool,
    pub get_n_methods: unsafe extern "system" fn(*mut c_void) -> c_long,
    pub find_method: unsafe extern "system" fn(*mut c_void, *const u16) -> c_long,
    pub get_method_name: unsafe extern "system" fn(*mut c_void, c_long, c_long) -> *const u16,
    pub get_n_params: unsafe extern "system" fn(*mut c_void, c_long) -> c_long,
    pub get_param_def_value:
        unsafe extern "system" fn(*mut c_void, c_long, c_long, *mut TVariant) -> bool,
    pub has_ret_val: unsafe extern "system" fn(*mut c_void, c_long) -> bool,
    pub call_as_proc: unsafe extern "system" fn(*mut c_void, c_long, *mut TVariant, c_long) -> bool,
    pub call_as_func: unsafe extern "system" fn(
        *mut c_void,
        c_long,
        *mut TVariant,
        *mut TVariant,
        c_long,
    ) -> bool,
}

/// `LocaleBase`, the third interface.
#[repr(C)]
pub(crate) struct LocaleVtable {
    pub destructors: [Destructor; DESTRUCTOR_SLOTS],
    pub set_locale: unsafe extern "system" fn(*mut c_void, *const u16),
}

/// `UserLanguageBase`, the fourth interface.
#[repr(C)]
pub(crate) struct UserLanguageVtable {
    pub destructors: [Destructor; DESTRUCTOR_SLOTS],
    pub set_user_interface_language_code: unsafe extern "system" fn(*mut c_void, *const u16),
}

/// The start of `IMemoryManager`'s vtable. `FreeMemory` follows and is not
/// declared, because the component frees nothing the platform owns.
#[repr(C)]
pub(crate) struct MemoryManagerVtable {
    pub destructors: [usize; DESTRUCTOR_SLOTS],
    pub alloc_memory: unsafe extern "system" fn(*mut c_void, *mut *mut c_void, c_ulong) -> bool,
}

/// The start of `IAddInDefBase`'s vtable, the connection to the platform.
/// `Read`, `Write` and the event and status line methods follow and are not
/// declared, because the component calls only `AddError`.
#[repr(C)]
pub(crate) struct ConnectionVtable {
    pub destructors: [usize; DESTRUCTOR_SLOTS],
    pub add_error:
        unsafe extern "system" fn(*mut c_void, c_ushort, *const u16, *const u16, c_long) -> bool,
}

/// An object of the platform: a pointer to its vtable.
#[repr(C)]
pub(crate) struct PlatformObject<V> {
    pub vtable: *const V,
}
