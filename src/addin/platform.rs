//! The two platform interfaces the component calls: the memory manager, which
//! allocates every string handed to the platform, and the connection, which
//! receives error messages.

use std::ffi::{c_ulong, c_void};

use super::abi::{ADDIN_E_FAIL, ConnectionVtable, E_FAIL, MemoryManagerVtable, PlatformObject};
use super::text::to_utf16_nul;
use crate::error::{Error, Status};

/// `IMemoryManager` of the platform, as passed to `setMemManager`.
#[derive(Clone, Copy)]
pub(crate) struct MemoryManager(*mut PlatformObject<MemoryManagerVtable>);

impl MemoryManager {
    /// Wraps the pointer that `setMemManager` received. None for NULL.
    pub fn new(pointer: *mut c_void) -> Option<MemoryManager> {
        (!pointer.is_null()).then(|| MemoryManager(pointer.cast()))
    }

    /// Copies text into a NUL-terminated UTF-16 block allocated by the
    /// platform, which frees it with `FreeMemory`. Returns the block and the
    /// length in code units without the NUL.
    pub fn alloc_utf16(&self, text: &str) -> Result<(*mut u16, u32), Error> {
        let units = to_utf16_nul(text);
        let length = units.len() - 1;
        let length_u32 = u32::try_from(length)
            .map_err(|_| Error::new(Status::Internal, "string too long for the platform"))?;
        let bytes = units.len() * size_of::<u16>();
        let byte_count = c_ulong::try_from(bytes)
            .map_err(|_| Error::new(Status::Internal, "string too long for the platform"))?;

        let mut block: *mut c_void = std::ptr::null_mut();
        // SAFETY: the platform passed a valid IMemoryManager to setMemManager
        // and keeps it alive while the object exists.
        let allocated = unsafe {
            let manager = self.0;
            ((*(*manager).vtable).alloc_memory)(manager.cast(), &mut block, byte_count)
        };
        if !allocated || block.is_null() {
            return Err(Error::new(
                Status::Internal,
                format!("the platform's memory manager failed to allocate {bytes} bytes"),
            ));
        }
        let block = block.cast::<u16>();
        // SAFETY: the block holds `units.len()` units; the platform allocator
        // returns memory aligned for any type, and the copy is byte-wise anyway.
        unsafe {
            std::ptr::copy_nonoverlapping(units.as_ptr().cast::<u8>(), block.cast::<u8>(), bytes)
        };
        Ok((block, length_u32))
    }
}

/// `IAddInDefBase` of the platform, as passed to `Init`.
#[derive(Clone, Copy)]
pub(crate) struct Connection(*mut PlatformObject<ConnectionVtable>);

impl Connection {
    /// Wraps the pointer that `Init` received. None for NULL.
    pub fn new(pointer: *mut c_void) -> Option<Connection> {
        (!pointer.is_null()).then(|| Connection(pointer.cast()))
    }

    /// Passes an error message to the platform with `AddError`. The vtable
    /// method then returns false, so the platform raises an exception that
    /// 1C code catches with `Попытка ... Исключение`. The strings are
    /// borrowed for the call only.
    // NOTE: that the exception carries this message follows the Native API
    // documentation; only the test harness, not the platform, has run it.
    pub fn add_error(&self, source: &str, description: &str) {
        let source = to_utf16_nul(source);
        let description = to_utf16_nul(description);
        // SAFETY: the platform passed a valid IAddInDefBase to Init and keeps
        // it alive while the object exists.
        unsafe {
            let connection = self.0;
            ((*(*connection).vtable).add_error)(
                connection.cast(),
                ADDIN_E_FAIL,
                source.as_ptr(),
                description.as_ptr(),
                E_FAIL,
            );
        }
    }
}
