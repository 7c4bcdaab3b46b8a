//! The component object that the platform holds: four vtable pointers
//! followed by the state, and the functions of those vtables. Every function
//! runs its body under `catch_unwind`, so no panic unwinds into the platform.

use std::any::Any;
use std::ffi::{c_long, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::abi::{
    DESTRUCTORS, InitDoneVtable, LanguageExtenderVtable, LocaleVtable, TVariant, UserLanguageVtable,
};
use super::bonus::Bonus;
use super::members::{self, METHODS, Method, PROPERTIES};
use super::platform::{Connection, MemoryManager};
use super::text::read_name;
use super::value::Value;
use crate::error::{Error, Status};

/// The name of the only class, for `GetClassNames`, `GetClassObject` and
/// `RegisterExtensionAs`: 1C creates it as `Новый("AddIn.Esbyt.Bonus")`
/// when the component was attached under the name `Esbyt`.
pub(crate) const CLASS_NAME: &str = "Bonus";

/// The source that `AddError` reports with every error message.
const ERROR_SOURCE: &str = "AddIn.Esbyt.Bonus";

/// `GetInfo`: the component version, 2000 for version 2 as ComponentBase.h
/// documents it.
const NATIVE_API_VERSION: c_long = 2000;

/// Positions of the vtable pointers in the object. The platform calls each
/// interface's methods with `this` pointing at that interface's pointer.
const INIT_DONE_SLOT: usize = 0;
const LANGUAGE_EXTENDER_SLOT: usize = 1;
const LOCALE_SLOT: usize = 2;
const USER_LANGUAGE_SLOT: usize = 3;

/// Addresses of the objects created and not yet destroyed. A `this` or an
/// object passed to `DestroyObject` is used only if it is one of them.
static LIVE_OBJECTS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// The object handed to the platform, laid out as a C++ object of a class
/// that inherits the four interfaces of `IComponentBase` in their order.
#[repr(C)]
pub(crate) struct AddInObject {
    init_done: &'static InitDoneVtable,
    language_extender: &'static LanguageExtenderVtable,
    locale: &'static LocaleVtable,
    user_language: &'static UserLanguageVtable,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    connection: Option<Connection>,
    memory: Option<MemoryManager>,
    bonus: Bonus,
}

static INIT_DONE_VTABLE: InitDoneVtable = InitDoneVtable {
    destructors: DESTRUCTORS,
    init,
    set_mem_manager,
    get_info,
    done,
};

static LANGUAGE_EXTENDER_VTABLE: LanguageExtenderVtable = LanguageExtenderVtable {
    destructors: DESTRUCTORS,
    register_extension_as,
    get_n_props,
    find_prop,
    get_prop_name,
    get_prop_val,
    set_prop_val,
    is_prop_readable,
    is_prop_writable,
    get_n_methods,
    find_method,
    get_method_name,
    get_n_params,
    get_param_def_value,
    has_ret_val,
    call_as_proc,
    call_as_func,
};

static LOCALE_VTABLE: LocaleVtable = LocaleVtable {
    destructors: DESTRUCTORS,
    set_locale,
};

static USER_LANGUAGE_VTABLE: UserLanguageVtable = UserLanguageVtable {
    destructors: DESTRUCTORS,
    set_user_interface_language_code,
};

/// Creates an object and registers it. The platform owns it until it
/// passes it to [`destroy`].
pub(crate) fn create() -> *mut AddInObject {
    let object = Box::new(AddInObject {
        init_done: &INIT_DONE_VTABLE,
        language_extender: &LANGUAGE_EXTENDER_VTABLE,
        locale: &LOCALE_VTABLE,
        user_language: &USER_LANGUAGE_VTABLE,
        inner: Mutex::new(Inner::default()),
    });
    let pointer = Box::into_raw(object);
    live_objects().push(pointer.addr());
    pointer
}

/// Destroys an object that [`create`] returned. Returns false, and frees
/// nothing, for any other pointer or one already destroyed.
///
/// # Safety
/// No method of the object runs or starts after this call.
pub(crate) unsafe fn destroy(pointer: *mut c_void) -> bool {
    {
        let mut live = live_objects();
        let Some(position) = live.iter().position(|&address| address == pointer.addr()) else {
            return false;
        };
        live.swap_remove(position);
    }
    // SAFETY: the address came from Box::into_raw in `create` and was live.
    drop(unsafe { Box::from_raw(pointer.cast::<AddInObject>()) });
    true
}

fn live_objects() -> MutexGuard<'static, Vec<usize>> {
    // Each operation on the list is one push, search or removal, so a panic
    // while it was locked cannot leave it half-changed.
    LIVE_OBJECTS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Returns the object whose vtable pointer number `slot` is at `this`, if
/// it is a live object.
///
/// # Safety
/// The platform calls no method of an object after destroying it.
unsafe fn object_at<'a>(this: *mut c_void, slot: usize) -> Option<&'a AddInObject> {
    if this.is_null() {
        return None;
    }
    let base = this
        .wrapping_byte_sub(slot * size_of::<*const c_void>())
        .cast::<AddInObject>();
    if !live_objects().contains(&base.addr()) {
        return None;
    }
    // SAFETY: `base` is a live object created by `create`.
    Some(unsafe { &*base })
}

/// Runs the body of a vtable function and returns `fallback` when it
/// returns None or panics.
fn guard<T>(fallback: T, body: impl FnOnce() -> Option<T>) -> T {
    catch_unwind(AssertUnwindSafe(body))
        .ok()
        .flatten()
        .unwrap_or(fallback)
}

impl AddInObject {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // After a caught panic the state is still usable: at worst the
        // result properties of the failed call are incomplete.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs an operation that reports its failure to the platform. Returns
    /// true on success. On failure the message goes to `AddError`, so the
    /// platform raises it as an exception when the vtable function returns
    /// false. A panic becomes an error of status `status_on_panic` and is
    /// recorded in the result properties.
    fn run_reporting(
        &self,
        status_on_panic: Status,
        body: impl FnOnce(&AddInObject) -> Result<(), Error>,
    ) -> bool {
        let error = match catch_unwind(AssertUnwindSafe(|| body(self))) {
            Ok(Ok(())) => return true,
            Ok(Err(error)) => error,
            Err(payload) => {
                let error = panic_error(status_on_panic, payload.as_ref());
                self.lock().bonus.record_failure(error.clone());
                error
            }
        };
        let connection = self.lock().connection;
        if let Some(connection) = connection {
            connection.add_error(ERROR_SOURCE, &error.to_string());
        }
        false
    }

    fn memory(&self) -> Result<MemoryManager, Error> {
        self.lock().memory.ok_or_else(no_memory_manager)
    }

    /// Calls a method and, for `CallAsFunc`, writes its value to `result`.
    fn call(
        &self,
        index: c_long,
        params: *mut TVariant,
        count: c_long,
        result: Option<*mut TVariant>,
    ) -> bool {
        let method = members::method(index);
        // A write-off's request may have gone out before a panic.
        let status_on_panic = match method {
            Some(info) if info.method == Method::SpendBonus => Status::OutcomeUnknown,
            _ => Status::Internal,
        };
        self.run_reporting(status_on_panic, |object| {
            let method = method.ok_or_else(|| {
                Error::invalid_argument(format!("the component has no method number {index}"))
            })?;
            // SAFETY: the platform passes `count` variants at `params`.
            let arguments = unsafe { read_arguments(method, params, count) };
            let mut inner = object.lock();
            let arguments =
                arguments.inspect_err(|error| inner.bonus.record_failure(error.clone()))?;
            let output = inner.bonus.call(method, &arguments)?;

            let Some(result) = result else {
                return Ok(());
            };
            let written = match inner.memory {
                Some(memory) if !result.is_null() => {
                    // SAFETY: checked for NULL; the platform passes a writable variant.
                    unsafe { output.write(result, &memory) }
                }
                Some(_) => Err(Error::new(
                    Status::Internal,
                    "the platform passed no variant for the result",
                )),
                None => Err(no_memory_manager()),
            };
            written.map_err(|error| {
                // The call itself succeeded: a write-off was executed and
                // LastSpendId contains its number, but the host never saw it.
                let error = if method.method == Method::SpendBonus {
                    error.into_outcome_unknown()
                } else {
                    error
                };
                inner.bonus.record_error(error.clone());
                error
            })
        })
    }

    fn get_property(&self, index: c_long, target: *mut TVariant) -> bool {
        self.run_reporting(Status::Internal, |object| {
            let property = members::property(index).ok_or_else(|| no_property(index))?;
            if target.is_null() {
                return Err(Error::new(
                    Status::Internal,
                    "the platform passed no variant for the value",
                ));
            }
            let output = object.lock().bonus.get_property(property)?;
            let memory = object.memory()?;
            // SAFETY: checked for NULL; the platform passes a writable variant.
            unsafe { output.write(target, &memory) }
        })
    }

    fn set_property(&self, index: c_long, source: *mut TVariant) -> bool {
        self.run_reporting(Status::Internal, |object| {
            let property = members::property(index).ok_or_else(|| no_property(index))?;
            let value = if source.is_null() {
                Ok(Value::Empty)
            } else {
                // SAFETY: the platform passes a valid variant that it owns.
                unsafe { Value::read(&source.read_unaligned(), &property.names.english) }
            };
            let mut inner = object.lock();
            let value = value.inspect_err(|error| inner.bonus.record_failure(error.clone()))?;
            inner.bonus.set_property(property, &value)
        })
    }
}

/// Decodes the arguments of a call.
///
/// # Safety
/// `params` points to `count` valid variants, or `count` is 0.
unsafe fn read_arguments(
    method: &members::MethodInfo,
    params: *const TVariant,
    count: c_long,
) -> Result<Vec<Value>, Error> {
    let count = usize::try_from(count).unwrap_or(0);
    if count == 0 {
        return Ok(Vec::new());
    }
    if count > method.parameters.len() {
        return Err(Error::invalid_argument(format!(
            "{} takes {} parameters, but {count} were passed",
            method.names.both(),
            method.parameters.len()
        )));
    }
    if params.is_null() {
        return Err(Error::new(
            Status::Internal,
            format!("the platform passed {count} parameters without their array"),
        ));
    }
    method.parameters[..count]
        .iter()
        .enumerate()
        .map(|(index, parameter)| {
            // SAFETY: the caller guarantees `count` readable variants.
            let variant = unsafe { params.add(index).read_unaligned() };
            // SAFETY: the platform owns the variant and its strings for the call.
            unsafe { Value::read(&variant, parameter.name) }
        })
        .collect()
}

fn no_memory_manager() -> Error {
    Error::new(
        Status::Internal,
        "the platform has not passed its memory manager (setMemManager), so no value can be returned",
    )
}

fn no_property(index: c_long) -> Error {
    Error::invalid_argument(format!("the component has no property number {index}"))
}

fn panic_error(status: Status, payload: &(dyn Any + Send)) -> Error {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    let error = Error::new(
        Status::Internal,
        format!("internal error in the esbyt component (please report it): {detail}"),
    );
    if status == Status::OutcomeUnknown {
        error.into_outcome_unknown()
    } else {
        error
    }
}

/// Copies a name into memory from the platform's memory manager; the
/// platform frees it. NULL when there is no memory manager yet.
fn platform_string(object: &AddInObject, text: &str) -> Option<*mut u16> {
    let memory = object.lock().memory?;
    memory.alloc_utf16(text).ok().map(|(block, _)| block)
}

// The vtable functions. Each looks the object up from `this`, so a call on
// a destroyed or foreign object returns its fallback value.

unsafe extern "system" fn init(this: *mut c_void, connection: *mut c_void) -> bool {
    guard(false, || {
        // SAFETY (every `object_at` below): see object_at.
        let object = unsafe { object_at(this, INIT_DONE_SLOT) }?;
        object.lock().connection = Some(Connection::new(connection)?);
        Some(true)
    })
}

unsafe extern "system" fn set_mem_manager(this: *mut c_void, memory: *mut c_void) -> bool {
    guard(false, || {
        let object = unsafe { object_at(this, INIT_DONE_SLOT) }?;
        object.lock().memory = Some(MemoryManager::new(memory)?);
        Some(true)
    })
}

unsafe extern "system" fn get_info(this: *mut c_void) -> c_long {
    guard(0, || {
        unsafe { object_at(this, INIT_DONE_SLOT) }?;
        Some(NATIVE_API_VERSION)
    })
}

unsafe extern "system" fn done(this: *mut c_void) {
    guard((), || {
        let object = unsafe { object_at(this, INIT_DONE_SLOT) }?;
        let mut inner = object.lock();
        inner.bonus.disconnect();
        inner.connection = None;
        inner.memory = None;
        Some(())
    })
}

unsafe extern "system" fn register_extension_as(this: *mut c_void, name: *mut *mut u16) -> bool {
    guard(false, || {
        let object = unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        if name.is_null() {
            return None;
        }
        let block = platform_string(object, CLASS_NAME)?;
        // SAFETY: checked for NULL; the platform passes a writable pointer.
        unsafe { name.write_unaligned(block) };
        Some(true)
    })
}

unsafe extern "system" fn get_n_props(this: *mut c_void) -> c_long {
    guard(0, || {
        unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        c_long::try_from(PROPERTIES.len()).ok()
    })
}

unsafe extern "system" fn find_prop(this: *mut c_void, name: *const u16) -> c_long {
    guard(-1, || {
        unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        // SAFETY: the platform passes a NUL-terminated name.
        let name = unsafe { read_name(name) }?;
        c_long::try_from(members::find_property(&name)?).ok()
    })
}

unsafe extern "system" fn get_prop_name(
    this: *mut c_void,
    index: c_long,
    alias: c_long,
) -> *const u16 {
    guard(std::ptr::null(), || {
        let object = unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        let property = members::property(index)?;
        platform_string(object, property.names.for_alias(alias)).map(|block| block.cast_const())
    })
}

unsafe extern "system" fn get_prop_val(
    this: *mut c_void,
    index: c_long,
    value: *mut TVariant,
) -> bool {
    guard(false, || {
        let object = unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        Some(object.get_property(index, value))
    })
}

unsafe extern "system" fn set_prop_val(
    this: *mut c_void,
    index: c_long,
    value: *mut TVariant,
) -> bool {
    guard(false, || {
        let object = unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        Some(object.set_property(index, value))
    })
}

unsafe extern "system" fn is_prop_readable(this: *mut c_void, index: c_long) -> bool {
    guard(false, || {
        unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        Some(members::property(index)?.is_readable())
    })
}

unsafe extern "system" fn is_prop_writable(this: *mut c_void, index: c_long) -> bool {
    guard(false, || {
        unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        Some(members::property(index)?.is_writable())
    })
}

unsafe extern "system" fn get_n_methods(this: *mut c_void) -> c_long {
    guard(0, || {
        unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        c_long::try_from(METHODS.len()).ok()
    })
}

unsafe extern "system" fn find_method(this: *mut c_void, name: *const u16) -> c_long {
    guard(-1, || {
        unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        // SAFETY: the platform passes a NUL-terminated name.
        let name = unsafe { read_name(name) }?;
        c_long::try_from(members::find_method(&name)?).ok()
    })
}

unsafe extern "system" fn get_method_name(
    this: *mut c_void,
    index: c_long,
    alias: c_long,
) -> *const u16 {
    guard(std::ptr::null(), || {
        let object = unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        let method = members::method(index)?;
        platform_string(object, method.names.for_alias(alias)).map(|block| block.cast_const())
    })
}

unsafe extern "system" fn get_n_params(this: *mut c_void, index: c_long) -> c_long {
    guard(0, || {
        unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        c_long::try_from(members::method(index)?.parameters.len()).ok()
    })
}

/// Gives `Неопределено` as the default of an optional parameter, which the
/// method then treats as omitted, and returns false for a required one so
/// the platform reports the missing parameter itself.
unsafe extern "system" fn get_param_def_value(
    this: *mut c_void,
    index: c_long,
    parameter: c_long,
    value: *mut TVariant,
) -> bool {
    guard(false, || {
        unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        if !value.is_null() {
            // SAFETY: checked for NULL; the platform passes a writable variant.
            unsafe { value.write_unaligned(TVariant::empty()) };
        }
        let method = members::method(index)?;
        let parameter = method.parameters.get(usize::try_from(parameter).ok()?)?;
        Some(parameter.optional && !value.is_null())
    })
}

unsafe extern "system" fn has_ret_val(this: *mut c_void, index: c_long) -> bool {
    guard(false, || {
        unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        Some(members::method(index)?.returns_value)
    })
}

unsafe extern "system" fn call_as_proc(
    this: *mut c_void,
    index: c_long,
    params: *mut TVariant,
    count: c_long,
) -> bool {
    guard(false, || {
        let object = unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        Some(object.call(index, params, count, None))
    })
}

unsafe extern "system" fn call_as_func(
    this: *mut c_void,
    index: c_long,
    result: *mut TVariant,
    params: *mut TVariant,
    count: c_long,
) -> bool {
    guard(false, || {
        let object = unsafe { object_at(this, LANGUAGE_EXTENDER_SLOT) }?;
        Some(object.call(index, params, count, Some(result)))
    })
}

/// Ignores the locale: messages are English, and server messages are passed
/// on as the server wrote them.
unsafe extern "system" fn set_locale(this: *mut c_void, _locale: *const u16) {
    guard((), || {
        unsafe { object_at(this, LOCALE_SLOT) }?;
        Some(())
    })
}

/// Ignores the interface language, as `set_locale` does.
unsafe extern "system" fn set_user_interface_language_code(
    this: *mut c_void,
    _language: *const u16,
) {
    guard((), || {
        unsafe { object_at(this, USER_LANGUAGE_SLOT) }?;
        Some(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addin::value::Output;

    #[test]
    fn guard_turns_panic_into_fallback() {
        assert!(!guard(false, || -> Option<bool> { panic!("boom") }));
        assert_eq!(guard(-1, || None::<c_long>), -1);
        assert_eq!(guard(-1, || Some(7)), 7);
    }

    #[test]
    fn panic_in_operation_is_recorded_as_status() {
        let pointer = create();
        // SAFETY: the object was just created and is destroyed below.
        let object = unsafe { &*pointer };

        let succeeded =
            object.run_reporting(Status::OutcomeUnknown, |_| panic!("boom in a write-off"));
        assert!(!succeeded);
        let last_status = PROPERTIES
            .iter()
            .find(|property| property.names.english == "LastStatus")
            .unwrap();
        let status = object.lock().bonus.get_property(last_status).unwrap();
        assert_eq!(status, Output::Integer(9));

        let last_error = PROPERTIES
            .iter()
            .find(|property| property.names.english == "LastError")
            .unwrap();
        let Output::Text(message) = object.lock().bonus.get_property(last_error).unwrap() else {
            panic!("LastError is not a string");
        };
        assert!(
            message.ends_with(
                "internal error in the esbyt component (please report it): boom in a write-off"
            ),
            "{message}"
        );

        assert!(unsafe { destroy(pointer.cast()) });
        assert!(
            !unsafe { destroy(pointer.cast()) },
            "a second destroy must be rejected"
        );
    }

    #[test]
    fn vtable_functions_reject_foreign_this() {
        let mut foreign = [0usize; 8];
        let this = foreign.as_mut_ptr().cast::<c_void>();
        unsafe {
            assert_eq!(get_info(std::ptr::null_mut()), 0);
            assert_eq!(get_info(this), 0);
            assert_eq!(get_n_props(this), 0);
            assert_eq!(find_prop(this, std::ptr::null()), -1);
            assert!(get_prop_name(this, 0, 0).is_null());
            assert!(!call_as_proc(this, 0, std::ptr::null_mut(), 0));
        }
    }
}
