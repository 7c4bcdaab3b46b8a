// Plays the 1C:Enterprise platform for the native component in libesbyt.so.
// It loads the library with dlopen, creates a Bonus object through the
// exported entry points, and drives every vtable method with real tVariant
// values against the emulator. It checks the results, the AddError messages
// and the memory blocks the component allocates through the memory manager.
//
// Usage: harness LIBRARY URL SECOND_URL JOURNAL_FILE
//   URL         an emulator with the default cards, supplier 1111
//   SECOND_URL  an emulator whose card 2700009601205 has balance 777
//   JOURNAL_FILE a spend journal file that does not exist yet
//
// Prints one "ok N - ..." or "not ok N - ..." line per check and exits with
// status 0 when every check passed, 1 otherwise, 2 on a usage error.
//
// The declarations below are written for this harness from the Native API
// headers types.h, ComponentBase.h, AddInDefBase.h and IMemoryManager.h that
// 1C ships with its add-in template, read as reproduced in
// github.com/medigor/addin1c (addin1c-test/include). They are for Linux
// x86_64, where the interfaces' methods use the ordinary calling convention,
// strings are char16_t, and tVariant is 64 bytes with its type field at
// offset 60.

#include <dlfcn.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>
#include <string>
#include <vector>

namespace {

// Type codes of tVariant::vt.
enum : uint16_t {
    VT_EMPTY = 0,
    VT_I2 = 2,
    VT_I4 = 3,
    VT_R4 = 4,
    VT_R8 = 5,
    VT_TM = 7,
    VT_BOOL = 11,
    VT_I1 = 13,
    VT_UI1 = 14,
    VT_UI2 = 15,
    VT_UI4 = 16,
    VT_I8 = 17,
    VT_UI8 = 18,
    VT_PWSTR = 22,
    VT_ARRAY = 0x2000,
};

struct NarrowString {
    char* data;
    uint32_t length;  // bytes
};

struct WideString {
    char16_t* data;
    uint32_t length;  // UTF-16 code units without the NUL
};

// tVariant: a union whose largest member is the C library's struct tm, the
// array length, then the type code.
struct Variant {
    union {
        int8_t i8;
        int16_t i16;
        int32_t i32;
        int64_t i64;
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        float r4;
        double r8;
        bool boolean;
        struct tm date;
        void* pointer;
        NarrowString str;
        WideString wstr;
    } value;
    uint32_t elements;
    uint16_t vt;
};

static_assert(sizeof(Variant) == 64, "tVariant is 64 bytes on Linux x86_64");
static_assert(offsetof(Variant, elements) == 56, "cbElements follows the 56-byte union");
static_assert(offsetof(Variant, vt) == 60, "vt is at offset 60 on Linux x86_64");

// IInitDoneBase, ILanguageExtenderBase, LocaleBase, UserLanguageBase and
// IComponentBase, in the order of their virtual methods.
class InitDone {
public:
    virtual ~InitDone() {}
    virtual bool Init(void* connection) = 0;
    virtual bool setMemManager(void* memory) = 0;
    virtual long GetInfo() = 0;
    virtual void Done() = 0;
};

class LanguageExtender {
public:
    virtual ~LanguageExtender() {}
    virtual bool RegisterExtensionAs(char16_t** name) = 0;
    virtual long GetNProps() = 0;
    virtual long FindProp(const char16_t* name) = 0;
    virtual const char16_t* GetPropName(long index, long alias) = 0;
    virtual bool GetPropVal(long index, Variant* value) = 0;
    virtual bool SetPropVal(long index, Variant* value) = 0;
    virtual bool IsPropReadable(long index) = 0;
    virtual bool IsPropWritable(long index) = 0;
    virtual long GetNMethods() = 0;
    virtual long FindMethod(const char16_t* name) = 0;
    virtual const char16_t* GetMethodName(long index, long alias) = 0;
    virtual long GetNParams(long method) = 0;
    virtual bool GetParamDefValue(long method, long parameter, Variant* value) = 0;
    virtual bool HasRetVal(long method) = 0;
    virtual bool CallAsProc(long method, Variant* params, long count) = 0;
    virtual bool CallAsFunc(long method, Variant* result, Variant* params, long count) = 0;
};

class Locale {
public:
    virtual ~Locale() {}
    virtual void SetLocale(const char16_t* locale) = 0;
};

class UserLanguage {
public:
    virtual ~UserLanguage() {}
    virtual void SetUserInterfaceLanguageCode(const char16_t* language) = 0;
};

class Component : public InitDone, public LanguageExtender, public Locale, public UserLanguage {};

// IMemoryManager.
class MemoryManagerInterface {
public:
    virtual ~MemoryManagerInterface() {}
    virtual bool AllocMemory(void** block, unsigned long bytes) = 0;
    virtual void FreeMemory(void** block) = 0;
};

// IAddInDefBase.
class ConnectionInterface {
public:
    virtual ~ConnectionInterface() {}
    virtual bool AddError(unsigned short code, const char16_t* source, const char16_t* description,
                          long scode) = 0;
    virtual bool Read(char16_t* name, Variant* value, long* error_code, char16_t** error) = 0;
    virtual bool Write(char16_t* name, Variant* value) = 0;
    virtual bool RegisterProfileAs(char16_t* name) = 0;
    virtual bool SetEventBufferDepth(long depth) = 0;
    virtual long GetEventBufferDepth() = 0;
    virtual bool ExternalEvent(char16_t* source, char16_t* message, char16_t* data) = 0;
    virtual void CleanEventBuffer() = 0;
    virtual bool SetStatusLine(char16_t* line) = 0;
    virtual void ResetStatusLine() = 0;
};

using GetClassNamesFunction = const char16_t* (*)();
using GetClassObjectFunction = long (*)(const char16_t*, Component**);
using DestroyObjectFunction = long (*)(Component**);
using SetPlatformCapabilitiesFunction = int (*)(int);
using GetAttachTypeFunction = int (*)();

const unsigned short ADDIN_E_FAIL = 1006;

// A memory manager that records every block it hands out, so the harness can
// check that the component allocated every returned string here and that the
// harness, playing the platform, freed each one exactly once.
class CountingMemoryManager : public MemoryManagerInterface {
public:
    bool AllocMemory(void** block, unsigned long bytes) override {
        *block = std::malloc(bytes == 0 ? 1 : bytes);
        if (*block == nullptr) {
            return false;
        }
        live.insert(*block);
        ++allocations;
        return true;
    }

    void FreeMemory(void** block) override {
        if (!platform_is_freeing) {
            ++frees_by_component;
        }
        if (block == nullptr || *block == nullptr || live.erase(*block) == 0) {
            ++foreign_frees;
            return;
        }
        std::free(*block);
        *block = nullptr;
        ++frees;
    }

    bool owns(const void* block) const { return live.count(const_cast<void*>(block)) == 1; }

    // Frees a block as the platform does after it copied a returned value.
    void release(void* block) {
        platform_is_freeing = true;
        FreeMemory(&block);
        platform_is_freeing = false;
    }

    std::set<void*> live;
    size_t allocations = 0;
    size_t frees = 0;
    size_t foreign_frees = 0;
    size_t frees_by_component = 0;
    bool platform_is_freeing = false;
};

struct RecordedError {
    unsigned short code;
    std::u16string source;
    std::u16string description;
    long scode;
};

// A connection that records AddError calls and counts calls of every other
// method, which the component has no reason to make.
class RecordingConnection : public ConnectionInterface {
public:
    bool AddError(unsigned short code, const char16_t* source, const char16_t* description,
                  long scode) override {
        errors.push_back({code, source ? source : u"", description ? description : u"", scode});
        return true;
    }
    bool Read(char16_t*, Variant*, long*, char16_t**) override { return unexpected(); }
    bool Write(char16_t*, Variant*) override { return unexpected(); }
    bool RegisterProfileAs(char16_t*) override { return unexpected(); }
    bool SetEventBufferDepth(long) override { return unexpected(); }
    long GetEventBufferDepth() override { return unexpected() ? 1 : 0; }
    bool ExternalEvent(char16_t*, char16_t*, char16_t*) override { return unexpected(); }
    void CleanEventBuffer() override { unexpected(); }
    bool SetStatusLine(char16_t*) override { return unexpected(); }
    void ResetStatusLine() override { unexpected(); }

    std::vector<RecordedError> errors;
    size_t unexpected_calls = 0;

private:
    bool unexpected() {
        ++unexpected_calls;
        return false;
    }
};

std::string utf8(const std::u16string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        uint32_t c = text[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < text.size() && text[i + 1] >= 0xDC00 &&
            text[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (text[i + 1] - 0xDC00);
            ++i;
        }
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (c < 0x800) {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out += static_cast<char>(0xE0 | (c >> 12));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (c >> 18));
            out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        }
    }
    return out;
}

std::u16string utf16(const std::string& ascii) { return std::u16string(ascii.begin(), ascii.end()); }

// Case conversion of Latin and Cyrillic letters, enough for the member names.
char16_t upper_char(char16_t c) {
    if (c >= u'a' && c <= u'z') return static_cast<char16_t>(c - 0x20);
    if (c >= 0x0430 && c <= 0x044F) return static_cast<char16_t>(c - 0x20);
    if (c >= 0x0450 && c <= 0x045F) return static_cast<char16_t>(c - 0x50);
    return c;
}

char16_t lower_char(char16_t c) {
    if (c >= u'A' && c <= u'Z') return static_cast<char16_t>(c + 0x20);
    if (c >= 0x0410 && c <= 0x042F) return static_cast<char16_t>(c + 0x20);
    if (c >= 0x0400 && c <= 0x040F) return static_cast<char16_t>(c + 0x50);
    return c;
}

std::u16string upper(std::u16string text) {
    for (auto& c : text) c = upper_char(c);
    return text;
}

std::u16string lower(std::u16string text) {
    for (auto& c : text) c = lower_char(c);
    return text;
}

// Alternates upper and lower case: "cHeCkBoNuS".
std::u16string alternating(std::u16string text) {
    for (size_t i = 0; i < text.size(); ++i) {
        text[i] = i % 2 == 0 ? lower_char(text[i]) : upper_char(text[i]);
    }
    return text;
}

Variant empty_variant() {
    Variant variant;
    std::memset(&variant, 0, sizeof variant);
    variant.vt = VT_EMPTY;
    return variant;
}

// A string parameter that points into `storage`, which the harness owns, as
// the platform owns the strings it passes.
Variant text_variant(const std::u16string& storage) {
    Variant variant = empty_variant();
    variant.vt = VT_PWSTR;
    variant.value.wstr.data = const_cast<char16_t*>(storage.c_str());
    variant.value.wstr.length = static_cast<uint32_t>(storage.size());
    return variant;
}

Variant i4_variant(int32_t number) {
    Variant variant = empty_variant();
    variant.vt = VT_I4;
    variant.value.i32 = number;
    return variant;
}

Variant r8_variant(double number) {
    Variant variant = empty_variant();
    variant.vt = VT_R8;
    variant.value.r8 = number;
    return variant;
}

Variant bool_variant(bool flag) {
    Variant variant = empty_variant();
    variant.vt = VT_BOOL;
    variant.value.boolean = flag;
    return variant;
}

class Harness {
public:
    Harness(Component* component, CountingMemoryManager& memory, RecordingConnection& connection)
        : component_(component), extender_(component), memory_(memory), connection_(connection) {}

    void check(bool passed, const std::string& name) {
        ++checks_;
        if (passed) {
            std::printf("ok %zu - %s\n", checks_, name.c_str());
        } else {
            ++failures_;
            std::printf("not ok %zu - %s\n", checks_, name.c_str());
        }
    }

    size_t checks() const { return checks_; }
    size_t failures() const { return failures_; }

    long property(const std::u16string& name) {
        long index = extender_->FindProp(name.c_str());
        check(index >= 0, "property " + utf8(name) + " exists");
        return index;
    }

    long method(const std::u16string& name) {
        long index = extender_->FindMethod(name.c_str());
        check(index >= 0, "method " + utf8(name) + " exists");
        return index;
    }

    // Copies a string the component allocated and frees it as the platform does.
    std::u16string take_string(const char16_t* block, const std::string& context) {
        if (block == nullptr) {
            check(false, context + ": a string was returned");
            return u"";
        }
        check(memory_.owns(block), context + ": allocated by the memory manager");
        std::u16string text(block);
        memory_.release(const_cast<char16_t*>(block));
        return text;
    }

    // Frees the string a returned variant contains, if any, and returns it.
    std::u16string release(Variant& variant, const std::string& context) {
        if (variant.vt != VT_PWSTR) {
            return u"";
        }
        const char16_t* data = variant.value.wstr.data;
        check(data != nullptr && memory_.owns(data), context + ": string allocated by the memory manager");
        if (data == nullptr || !memory_.owns(data)) {
            return u"";
        }
        std::u16string text(data, variant.value.wstr.length);
        check(data[variant.value.wstr.length] == 0, context + ": string is NUL-terminated");
        memory_.release(variant.value.wstr.data);
        variant.vt = VT_EMPTY;
        return text;
    }

    Variant get(const std::u16string& name) {
        Variant value = empty_variant();
        bool succeeded = extender_->GetPropVal(property(name), &value);
        check(succeeded, "GetPropVal " + utf8(name) + " succeeds");
        return value;
    }

    std::u16string get_text(const std::u16string& name) {
        Variant value = get(name);
        check(value.vt == VT_PWSTR, utf8(name) + " is a string");
        return release(value, utf8(name));
    }

    // Returns a property's number, returned as VT_I4 or VT_R8, and NAN for other types.
    double get_number(const std::u16string& name) {
        Variant value = get(name);
        release(value, utf8(name));
        if (value.vt == VT_I4) return value.value.i32;
        if (value.vt == VT_R8) return value.value.r8;
        check(false, utf8(name) + " is a number");
        return NAN;
    }

    bool set(const std::u16string& name, Variant value) {
        return extender_->SetPropVal(property(name), &value);
    }

    void set_ok(const std::u16string& name, Variant value) {
        bool succeeded = set(name, value);
        expect_success("set " + utf8(name), succeeded);
    }

    bool call_function(const std::u16string& name, std::vector<Variant> params, Variant& result) {
        result = empty_variant();
        return extender_->CallAsFunc(method(name), &result, params.empty() ? nullptr : params.data(),
                                     static_cast<long>(params.size()));
    }

    bool call_procedure(const std::u16string& name, std::vector<Variant> params) {
        return extender_->CallAsProc(method(name), params.empty() ? nullptr : params.data(),
                                     static_cast<long>(params.size()));
    }

    void expect_success(const std::string& name, bool succeeded) {
        check(succeeded, name + ": succeeds");
        check(connection_.errors.size() == errors_seen_, name + ": no AddError");
        if (connection_.errors.size() > errors_seen_) {
            std::printf("# unexpected error: %s\n", utf8(connection_.errors.back().description).c_str());
        }
        errors_seen_ = connection_.errors.size();
    }

    // Checks that an operation failed the way the platform turns into an
    // exception: it returned false after one AddError with this text.
    void expect_failure(const std::string& name, bool succeeded, const std::u16string& expected,
                        bool whole_text = false) {
        check(!succeeded, name + ": returns false");
        bool one_error = connection_.errors.size() == errors_seen_ + 1;
        check(one_error, name + ": exactly one AddError");
        if (connection_.errors.size() > errors_seen_) {
            const RecordedError& error = connection_.errors.back();
            check(error.code == ADDIN_E_FAIL, name + ": AddError code is ADDIN_E_FAIL");
            check(error.source == u"AddIn.Esbyt.Bonus", name + ": AddError source");
            bool matches = whole_text ? error.description == expected
                                      : error.description.find(expected) != std::u16string::npos;
            check(matches, name + ": message " + (whole_text ? "is " : "contains ") + utf8(expected));
            if (!matches) {
                std::printf("# message: %s\n", utf8(error.description).c_str());
            }
        }
        errors_seen_ = connection_.errors.size();
    }

    Component* component() { return component_; }
    LanguageExtender* extender() { return extender_; }

private:
    Component* component_;
    LanguageExtender* extender_;
    CountingMemoryManager& memory_;
    RecordingConnection& connection_;
    size_t checks_ = 0;
    size_t failures_ = 0;
    size_t errors_seen_ = 0;
};

const std::u16string TEST_CARD = u"2700009601205";
const std::u16string EMPTY_CARD = u"2700009601229";
const std::u16string LARGE_BALANCE_CARD = u"2700009601236";
const std::u16string UNKNOWN_CARD = u"2700000000000";
const std::u16string CLOSE_AFTER_EXECUTE_CARD = u"2700009609027";
const std::u16string WINDOWS_1251_CARD = u"2700009609096";

void check_member_names(Harness& h) {
    LanguageExtender* extender = h.extender();
    long properties = extender->GetNProps();
    h.check(properties >= 30, "GetNProps lists the settings and the result properties");
    for (long index = 0; index < properties; ++index) {
        std::u16string english = h.take_string(extender->GetPropName(index, 0), "GetPropName english");
        std::u16string russian = h.take_string(extender->GetPropName(index, 1), "GetPropName russian");
        std::string label = "property " + utf8(english) + " / " + utf8(russian);
        h.check(!english.empty() && !russian.empty(), label + ": both names");
        for (const std::u16string& name : {english, russian}) {
            h.check(extender->FindProp(name.c_str()) == index, label + ": found by " + utf8(name));
            h.check(extender->FindProp(upper(name).c_str()) == index, label + ": found in upper case");
            h.check(extender->FindProp(lower(name).c_str()) == index, label + ": found in lower case");
            h.check(extender->FindProp(alternating(name).c_str()) == index,
                    label + ": found in mixed case");
        }
    }
    h.check(extender->GetPropName(properties, 0) == nullptr, "GetPropName past the end is NULL");
    h.check(extender->FindProp(u"NoSuchProperty") == -1, "FindProp of an unknown name is -1");
    h.check(extender->FindProp(nullptr) == -1, "FindProp of NULL is -1");

    const char16_t* expected_properties[] = {
        u"Url", u"АдресСервера", u"Supplier", u"КодПартнера", u"ConnectTimeoutMs", u"TimeoutMs",
        u"IdleTimeoutMs", u"MaxBodyBytes", u"ExtraCaFile", u"SystemRoots", u"ServerCertSha256",
        u"ClientCertFile", u"ClientKeyFile", u"ClientKeyPassword", u"Pkcs12File", u"Pkcs12Password",
        u"AllowHttp", u"Proxy", u"JournalFile", u"LastAccount", u"ПоследнийЛицевойСчет", u"LastBalance",
        u"ПоследнийБаланс", u"LastSpendId", u"ПоследнийНомерСписания", u"LastAttemptId", u"LastStatus",
        u"ПоследнийСтатус", u"LastServerCode", u"LastHttpStatus", u"LastError", u"ПоследняяОшибка",
        u"LastStatusName", u"LastCause", u"LastDetail", u"OutcomeUnknown", u"ИсходНеизвестен",
        u"Version",
    };
    for (const char16_t* name : expected_properties) {
        h.property(name);
    }

    long methods = extender->GetNMethods();
    h.check(methods == 5, "GetNMethods is 5");
    for (long index = 0; index < methods; ++index) {
        std::u16string english = h.take_string(extender->GetMethodName(index, 0), "GetMethodName english");
        std::u16string russian = h.take_string(extender->GetMethodName(index, 1), "GetMethodName russian");
        std::string label = "method " + utf8(english) + " / " + utf8(russian);
        for (const std::u16string& name : {english, russian}) {
            h.check(extender->FindMethod(name.c_str()) == index, label + ": found by " + utf8(name));
            h.check(extender->FindMethod(upper(name).c_str()) == index, label + ": found in upper case");
            h.check(extender->FindMethod(lower(name).c_str()) == index, label + ": found in lower case");
            h.check(extender->FindMethod(alternating(name).c_str()) == index,
                    label + ": found in mixed case");
        }
    }
    h.check(extender->GetMethodName(methods, 1) == nullptr, "GetMethodName past the end is NULL");
    h.check(extender->FindMethod(u"NoSuchMethod") == -1, "FindMethod of an unknown name is -1");

    struct Signature {
        const char16_t* english;
        const char16_t* russian;
        long parameters;
        bool returns_value;
    };
    const Signature signatures[] = {
        {u"CheckBonus", u"ПроверитьБаллы", 1, true},
        {u"SpendBonus", u"СписатьБаллы", 2, true},
        {u"PendingSpends", u"НезавершенныеСписания", 0, true},
        {u"ResolveSpend", u"ОтметитьСписание", 2, false},
        {u"Connect", u"Подключить", 0, false},
    };
    for (const Signature& signature : signatures) {
        long index = h.method(signature.english);
        std::string label = utf8(signature.english);
        h.check(h.method(signature.russian) == index, label + ": Russian name is the same method");
        h.check(extender->GetNParams(index) == signature.parameters, label + ": GetNParams");
        h.check(extender->HasRetVal(index) == signature.returns_value, label + ": HasRetVal");
    }
    h.check(extender->GetNParams(99) == 0, "GetNParams of an unknown method is 0");

    Variant default_value = i4_variant(42);
    h.check(extender->GetParamDefValue(h.method(u"ResolveSpend"), 1, &default_value),
            "GetParamDefValue gives a default for the note");
    h.check(default_value.vt == VT_EMPTY, "the note's default is Undefined (VTYPE_EMPTY)");
    default_value = i4_variant(42);
    h.check(!extender->GetParamDefValue(h.method(u"CheckBonus"), 0, &default_value),
            "GetParamDefValue gives no default for bonus_id");
    h.check(!extender->GetParamDefValue(h.method(u"SpendBonus"), 5, &default_value),
            "GetParamDefValue of an unknown parameter is false");

    long password = h.property(u"Pkcs12Password");
    h.check(!extender->IsPropReadable(password), "Pkcs12Password is not readable");
    h.check(extender->IsPropWritable(password), "Pkcs12Password is writable");
    long status = h.property(u"LastStatus");
    h.check(extender->IsPropReadable(status), "LastStatus is readable");
    h.check(!extender->IsPropWritable(status), "LastStatus is not writable");
    h.check(!extender->IsPropReadable(-1), "IsPropReadable of -1 is false");
}

void configure(Harness& h, const std::u16string& url, const std::u16string& journal) {
    h.set_ok(u"АдресСервера", text_variant(url));
    // A Boolean whose byte is 2, as C code may pass, counts as True.
    Variant odd_true = empty_variant();
    odd_true.vt = VT_BOOL;
    odd_true.value.u8 = 2;
    h.set_ok(u"allowhttp", odd_true);
    h.set_ok(u"КОДПАРТНЕРА", i4_variant(1111));
    h.set_ok(u"TimeoutMs", r8_variant(5000.0));
    // Skips loading the system's CA certificates, which plain HTTP never uses.
    h.set_ok(u"SystemRoots", bool_variant(false));
    h.set_ok(u"ФайлЖурналаСписаний", text_variant(journal));

    h.check(h.get_text(u"Url") == url, "Url reads back the assigned string");
    Variant timeout = h.get(u"ТаймаутМс");
    h.check(timeout.vt == VT_I4 && timeout.value.i32 == 5000, "TimeoutMs reads back 5000 as VTYPE_I4");
    Variant allow_http = h.get(u"AllowHttp");
    h.check(allow_http.vt == VT_BOOL && allow_http.value.boolean, "AllowHttp reads back True");
    h.check(h.get_number(u"Supplier") == 1111, "Supplier reads back 1111");
    Variant connect_timeout = h.get(u"ConnectTimeoutMs");
    h.check(connect_timeout.vt == VT_EMPTY, "an unassigned setting reads Undefined");

    Variant password = empty_variant();
    bool read = h.extender()->GetPropVal(h.property(u"Pkcs12Password"), &password);
    h.expect_failure("reading Pkcs12Password", read, u"is write-only");
}

void check_balance_calls(Harness& h) {
    Variant result;
    bool succeeded = h.call_function(u"CheckBonus", {text_variant(TEST_CARD)}, result);
    h.expect_success("CheckBonus of the test card", succeeded);
    h.check(result.vt == VT_I4 && result.value.i32 == 500, "CheckBonus returns 500 as VTYPE_I4");
    h.check(h.get_text(u"LastAccount") == u"1055444444", "LastAccount is 1055444444");
    h.check(h.get_number(u"LastBalance") == 500, "LastBalance is 500");
    h.check(h.get_number(u"LastStatus") == 0, "LastStatus is 0 after success");
    h.check(h.get_text(u"LastStatusName") == u"ESBYT_OK", "LastStatusName is ESBYT_OK");
    h.check(h.get_text(u"LastError").empty(), "LastError is empty after success");
    Variant unknown = h.get(u"OutcomeUnknown");
    h.check(unknown.vt == VT_BOOL && !unknown.value.boolean, "OutcomeUnknown is False after success");

    succeeded = h.call_function(u"пРоВеРиТьБаЛлЫ", {r8_variant(2700009601205.0)}, result);
    h.expect_success("CheckBonus by a Russian name with a card as VTYPE_R8", succeeded);
    h.check(result.vt == VT_I4 && result.value.i32 == 500, "the card as a number gives 500");

    succeeded = h.call_procedure(u"CheckBonus", {text_variant(TEST_CARD)});
    h.expect_success("CheckBonus called as a procedure", succeeded);

    succeeded = h.call_function(u"CheckBonus", {text_variant(LARGE_BALANCE_CARD)}, result);
    h.expect_success("CheckBonus of a balance above 32 bits", succeeded);
    h.check(result.vt == VT_R8 && result.value.r8 == 3000000000.0, "3000000000 returns as VTYPE_R8");
}

// Makes write-offs with the amount in every numeric form the platform may
// pass. Returns the number of write-offs made.
int check_write_offs(Harness& h) {
    Variant result;
    bool succeeded = h.call_function(u"SpendBonus", {text_variant(TEST_CARD), i4_variant(10)}, result);
    h.expect_success("SpendBonus of 10", succeeded);
    std::u16string spend_id = h.release(result, "SpendBonus result");
    h.check(spend_id == u"000000001", "SpendBonus returns spend_id 000000001");
    h.check(h.get_text(u"LastSpendId") == u"000000001", "LastSpendId is 000000001");
    h.check(!h.get_text(u"LastAttemptId").empty(), "LastAttemptId is set with a journal");
    int write_offs = 1;

    std::vector<std::pair<std::string, Variant>> amounts;
    Variant amount = empty_variant();
    amount.vt = VT_I1;
    amount.value.i8 = 1;
    amounts.push_back({"VTYPE_I1", amount});
    amount.vt = VT_I2;
    amount.value.i16 = 1;
    amounts.push_back({"VTYPE_I2", amount});
    amount.vt = VT_I8;
    amount.value.i64 = 1;
    amounts.push_back({"VTYPE_I8", amount});
    amount.vt = VT_UI1;
    amount.value.u8 = 1;
    amounts.push_back({"VTYPE_UI1", amount});
    amount.vt = VT_UI2;
    amount.value.u16 = 1;
    amounts.push_back({"VTYPE_UI2", amount});
    amount.vt = VT_UI4;
    amount.value.u32 = 1;
    amounts.push_back({"VTYPE_UI4", amount});
    amount.vt = VT_UI8;
    amount.value.u64 = 1;
    amounts.push_back({"VTYPE_UI8", amount});
    amount.vt = VT_R4;
    amount.value.r4 = 1.0f;
    amounts.push_back({"VTYPE_R4", amount});
    amounts.push_back({"VTYPE_R8", r8_variant(1.0)});
    static const std::u16string one_as_text = u"1";
    amounts.push_back({"numeric string", text_variant(one_as_text)});
    static const std::u16string one_with_fraction = u" 1,00 ";
    amounts.push_back({"numeric string with a zero fraction", text_variant(one_with_fraction)});

    for (auto& entry : amounts) {
        succeeded = h.call_function(u"СписатьБаллы", {text_variant(TEST_CARD), entry.second}, result);
        h.expect_success("SpendBonus of 1 as " + entry.first, succeeded);
        ++write_offs;
        char expected[16];
        std::snprintf(expected, sizeof expected, "%09d", write_offs);
        h.check(h.release(result, "SpendBonus result") == utf16(expected),
                "SpendBonus of 1 as " + entry.first + " returns " + expected);
    }

    succeeded = h.call_function(u"CheckBonus", {text_variant(TEST_CARD)}, result);
    h.expect_success("CheckBonus after the write-offs", succeeded);
    h.check(result.vt == VT_I4 && result.value.i32 == 479, "the balance is 500 - 10 - 11 = 479");
    return write_offs;
}

void check_invalid_parameters(Harness& h) {
    Variant result;
    const std::u16string letters = u"десять";
    const std::u16string lone_surrogate(1, static_cast<char16_t>(0xD800));
    const std::u16string card_with_letter = u"27000096O1205";

    Variant array = i4_variant(10);
    array.vt = VT_I4 | VT_ARRAY;
    Variant date = empty_variant();
    date.vt = VT_TM;
    date.value.date.tm_year = 125;
    Variant huge_unsigned = empty_variant();
    huge_unsigned.vt = VT_UI8;
    huge_unsigned.value.u64 = UINT64_MAX;

    struct Case {
        std::string name;
        std::vector<Variant> params;
        std::u16string message;
    };
    std::vector<Case> cases = {
        {"a fraction", {text_variant(TEST_CARD), r8_variant(10.5)},
         u"ESBYT_INVALID_ARGUMENT: amount 10.5 is invalid: expected a whole number"},
        {"NaN", {text_variant(TEST_CARD), r8_variant(NAN)}, u"amount NaN is not a finite number"},
        {"above the protocol range", {text_variant(TEST_CARD), r8_variant(1e12)},
         u"amount 1000000000000 is invalid: expected an integer from 1 to 2147483647"},
        {"above 64 bits as VTYPE_R8", {text_variant(TEST_CARD), r8_variant(1e20)},
         u"amount 100000000000000000000 is out of range"},
        {"above 64 bits as VTYPE_UI8", {text_variant(TEST_CARD), huge_unsigned},
         u"amount 18446744073709551615 is out of range"},
        {"zero", {text_variant(TEST_CARD), i4_variant(0)},
         u"amount 0 is invalid: expected an integer from 1 to 2147483647"},
        {"a negative amount", {text_variant(TEST_CARD), i4_variant(-5)},
         u"amount -5 is invalid: expected an integer from 1 to 2147483647"},
        {"a Boolean amount", {text_variant(TEST_CARD), bool_variant(true)},
         u"amount is Boolean (Булево): expected a number"},
        {"a non-numeric string", {text_variant(TEST_CARD), text_variant(letters)},
         u"amount \"десять\" is invalid: expected a whole number"},
        {"an Undefined amount", {text_variant(TEST_CARD), empty_variant()}, u"amount is missing"},
        {"an array", {text_variant(TEST_CARD), array}, u"amount is a value of Native API type 8195"},
        {"a date", {text_variant(TEST_CARD), date}, u"amount is Date (Дата): expected a number"},
        {"a Boolean card", {bool_variant(false), i4_variant(10)},
         u"bonus_id is Boolean (Булево): expected a string of digits"},
        {"invalid UTF-16", {text_variant(lone_surrogate), i4_variant(10)},
         u"bonus_id is not valid UTF-16"},
        {"a card with a letter", {text_variant(card_with_letter), i4_variant(10)}, u"bonus_id"},
        {"too many parameters", {text_variant(TEST_CARD), i4_variant(1), i4_variant(1)},
         u"SpendBonus (СписатьБаллы) takes 2 parameters, but 3 were passed"},
    };
    for (Case& entry : cases) {
        bool succeeded = h.call_function(u"SpendBonus", entry.params, result);
        h.expect_failure("SpendBonus with " + entry.name, succeeded, entry.message);
        h.check(h.get_number(u"LastStatus") == 1, "SpendBonus with " + entry.name + ": LastStatus is 1");
        h.check(h.get_text(u"LastSpendId").empty(), "SpendBonus with " + entry.name + ": no LastSpendId");
    }

    // The platform passes fewer parameters than GetNParams only if asked to,
    // but the component must not read past them.
    Variant card = text_variant(TEST_CARD);
    bool succeeded = h.extender()->CallAsFunc(h.method(u"SpendBonus"), &result, &card, 1);
    h.expect_failure("SpendBonus with one parameter", succeeded, u"amount is missing");

    succeeded = h.extender()->CallAsFunc(99, &result, nullptr, 0);
    h.expect_failure("CallAsFunc of an unknown method", succeeded, u"no method number 99");

    succeeded = h.call_function(u"CheckBonus", {text_variant(TEST_CARD)}, result);
    h.expect_success("CheckBonus after the invalid write-offs", succeeded);
    h.check(result.vt == VT_I4 && result.value.i32 == 479, "the invalid write-offs spent nothing");
}

void check_server_errors(Harness& h) {
    Variant result;
    bool succeeded = h.call_function(u"CheckBonus", {text_variant(UNKNOWN_CARD)}, result);
    h.expect_failure("CheckBonus of an unknown card", succeeded,
                     u"ESBYT_SERVER (server result 4): Участник с идентификатором 2700000000000 не найден",
                     true);
    h.check(h.get_text(u"LastError") == u"Участник с идентификатором 2700000000000 не найден",
            "LastError holds the server's Russian message intact");
    h.check(h.get_number(u"LastStatus") == 8, "LastStatus is 8 (ESBYT_SERVER)");
    h.check(h.get_text(u"ИмяПоследнегоСтатуса") == u"ESBYT_SERVER", "LastStatusName is ESBYT_SERVER");
    h.check(h.get_number(u"LastServerCode") == 4, "LastServerCode is 4");
    h.check(h.get_number(u"LastHttpStatus") == 200, "LastHttpStatus is 200");
    Variant balance = h.get(u"LastBalance");
    h.check(balance.vt == VT_EMPTY, "LastBalance is Undefined after a failure");

    succeeded = h.call_function(u"CheckBonus", {text_variant(WINDOWS_1251_CARD)}, result);
    h.expect_failure("CheckBonus of a blocked card in windows-1251", succeeded,
                     u"ESBYT_SERVER (server result 7): Карта заблокирована, операции с бонусами невозможны",
                     true);

    succeeded = h.call_function(u"SpendBonus", {text_variant(EMPTY_CARD), i4_variant(10)}, result);
    h.expect_failure("SpendBonus above the balance", succeeded,
                     u"ESBYT_SERVER (server result 6): Недостаточно бонусов: на балансе 0, к списанию 10",
                     true);
    Variant unknown = h.get(u"ИсходНеизвестен");
    h.check(unknown.vt == VT_BOOL && !unknown.value.boolean, "a refusal is not an unknown outcome");
    h.check(!h.get_text(u"LastAttemptId").empty(), "a refused write-off has a LastAttemptId");
}

// Makes two write-offs whose outcome is unknown, then resolves them in the
// journal. Returns the number of write-offs the emulator executed.
int check_unknown_outcomes(Harness& h) {
    Variant result;
    std::u16string attempts[2];
    for (int index = 0; index < 2; ++index) {
        bool succeeded =
            h.call_function(u"SpendBonus", {text_variant(CLOSE_AFTER_EXECUTE_CARD), i4_variant(5)}, result);
        h.expect_failure("SpendBonus with the connection closed after execution", succeeded,
                         u"ESBYT_OUTCOME_UNKNOWN: the write-off may or may not have been executed");
        Variant unknown = h.get(u"OutcomeUnknown");
        h.check(unknown.vt == VT_BOOL && unknown.value.boolean, "OutcomeUnknown is True");
        h.check(h.get_number(u"ПоследнийСтатус") == 9, "LastStatus is 9 (ESBYT_OUTCOME_UNKNOWN)");
        h.check(h.get_number(u"LastCause") == 3, "LastCause is 3 (ESBYT_CONNECTION)");
        attempts[index] = h.get_text(u"LastAttemptId");
        h.check(!attempts[index].empty(), "the unknown outcome has a LastAttemptId");
    }

    bool succeeded = h.call_function(u"PendingSpends", {}, result);
    h.expect_success("PendingSpends", succeeded);
    h.check(result.vt == VT_PWSTR, "PendingSpends returns a string");
    std::u16string pending = h.release(result, "PendingSpends result");
    std::printf("# pending: %s\n", utf8(pending).c_str());
    for (const std::u16string& attempt : attempts) {
        h.check(pending.find(u"\"attempt_id\":\"" + attempt + u"\"") != std::u16string::npos,
                "PendingSpends lists attempt " + utf8(attempt));
    }
    h.check(pending.find(u"\"state\":\"outcome_unknown\",\"cause\":\"ESBYT_CONNECTION\"") !=
                std::u16string::npos,
            "PendingSpends gives the state and the cause");

    // The first attempt: the note omitted, with the default value that
    // GetParamDefValue gives, as the platform passes it.
    long resolve = h.method(u"ОтметитьСписание");
    Variant params[2] = {text_variant(attempts[0]), empty_variant()};
    h.check(h.extender()->GetParamDefValue(resolve, 1, &params[1]), "the note has a default");
    succeeded = h.extender()->CallAsProc(resolve, params, 2);
    h.expect_success("ResolveSpend with the note omitted", succeeded);

    const std::u16string note = u"проверено по балансу: списано";
    succeeded = h.call_procedure(u"ResolveSpend", {text_variant(attempts[1]), text_variant(note)});
    h.expect_success("ResolveSpend with a Russian note", succeeded);

    const std::u16string unknown_attempt = u"1-2-3";
    succeeded = h.call_procedure(u"ResolveSpend", {text_variant(unknown_attempt)});
    h.expect_failure("ResolveSpend of an unknown attempt", succeeded, u"is not in the spend journal");

    succeeded = h.call_function(u"PendingSpends", {}, result);
    h.expect_success("PendingSpends after resolving", succeeded);
    h.check(h.release(result, "PendingSpends result") == u"[]", "no attempt is pending after resolving");
    return 2;
}

void check_setting_errors(Harness& h) {
    h.expect_failure("setting TimeoutMs to 2.5", h.set(u"TimeoutMs", r8_variant(2.5)),
                     u"ESBYT_INVALID_ARGUMENT: cannot set TimeoutMs (ТаймаутМс): value 2.5 is invalid: expected a whole number",
                     true);
    h.check(h.get_number(u"LastStatus") == 1, "a rejected setting sets LastStatus 1");
    h.expect_failure("setting TimeoutMs to 0", h.set(u"TimeoutMs", i4_variant(0)),
                     u"timeout_ms \"0\" is invalid: expected an integer from 1 to 600000");
    h.expect_failure("setting Url to a number", h.set(u"Url", i4_variant(5)),
                     u"the value is Number (Число): expected a string");
    h.expect_failure("setting LastStatus", h.set(u"LastStatus", i4_variant(0)), u"is read-only");
    h.check(h.get_number(u"TimeoutMs") == 5000, "a rejected value keeps the previous one");
}

void check_client_recreated(Harness& h, const std::u16string& url, const std::u16string& second_url) {
    Variant result;
    h.set_ok(u"Url", text_variant(second_url));
    bool succeeded = h.call_function(u"CheckBonus", {text_variant(TEST_CARD)}, result);
    h.expect_success("CheckBonus after changing Url", succeeded);
    h.check(result.vt == VT_I4 && result.value.i32 == 777, "the new Url reaches the second server (777)");

    h.set_ok(u"Url", text_variant(url));
    succeeded = h.call_function(u"CheckBonus", {text_variant(TEST_CARD)}, result);
    h.expect_success("CheckBonus after changing Url back", succeeded);
    h.check(result.vt == VT_I4 && result.value.i32 == 479, "the first server again (479)");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s LIBRARY URL SECOND_URL JOURNAL_FILE\n", argv[0]);
        return 2;
    }
    const std::u16string url = utf16(argv[2]);
    const std::u16string second_url = utf16(argv[3]);
    const std::u16string journal = utf16(argv[4]);

    // The library stays loaded until the process ends, as in the platform:
    // unloading it would turn the blocks its static tables hold into leaks.
    void* library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
        std::printf("not ok 1 - dlopen %s: %s\n", argv[1], dlerror());
        return 1;
    }
    auto get_class_names = reinterpret_cast<GetClassNamesFunction>(dlsym(library, "GetClassNames"));
    auto get_class_object = reinterpret_cast<GetClassObjectFunction>(dlsym(library, "GetClassObject"));
    auto destroy_object = reinterpret_cast<DestroyObjectFunction>(dlsym(library, "DestroyObject"));
    auto set_platform_capabilities =
        reinterpret_cast<SetPlatformCapabilitiesFunction>(dlsym(library, "SetPlatformCapabilities"));
    auto get_attach_type = reinterpret_cast<GetAttachTypeFunction>(dlsym(library, "GetAttachType"));
    if (!get_class_names || !get_class_object || !destroy_object || !set_platform_capabilities ||
        !get_attach_type) {
        std::printf("not ok 1 - the library exports the five Native API entry points\n");
        return 1;
    }

    CountingMemoryManager memory;
    RecordingConnection connection;

    const char16_t* class_names = get_class_names();
    bool class_names_ok = class_names != nullptr && std::u16string(class_names) == u"Bonus";
    bool capabilities_ok = set_platform_capabilities(3) == 3;
    bool attach_ok = get_attach_type() == 3;

    Component* unknown = nullptr;
    bool unknown_class_rejected = get_class_object(u"Nope", &unknown) == 0 && unknown == nullptr;
    Component* component = nullptr;
    bool created = get_class_object(u"Bonus", &component) != 0 && component != nullptr;
    if (!created) {
        std::printf("not ok 1 - GetClassObject creates a Bonus object\n");
        return 1;
    }

    Harness h(component, memory, connection);
    h.check(class_names_ok, "GetClassNames is Bonus");
    h.check(capabilities_ok, "SetPlatformCapabilities returns eAppCapabilities3");
    h.check(attach_ok, "GetAttachType returns eCanAttachAny");
    h.check(unknown_class_rejected, "GetClassObject rejects an unknown class");

    h.check(component->Init(&connection), "Init succeeds");
    h.check(component->setMemManager(static_cast<MemoryManagerInterface*>(&memory)), "setMemManager succeeds");
    h.check(component->GetInfo() == 2000, "GetInfo is 2000");
    component->SetLocale(u"ru_RU");
    component->SetUserInterfaceLanguageCode(u"ru");

    char16_t* extension = nullptr;
    h.check(component->RegisterExtensionAs(&extension), "RegisterExtensionAs succeeds");
    h.check(h.take_string(extension, "RegisterExtensionAs") == u"Bonus", "RegisterExtensionAs is Bonus");

    check_member_names(h);

    bool connected = h.call_procedure(u"Connect", {});
    h.expect_failure("Connect without a URL", connected, u"ESBYT_CONFIG");
    h.check(h.get_number(u"LastStatus") == 2, "LastStatus is 2 (ESBYT_CONFIG)");

    configure(h, url, journal);
    h.expect_success("Connect", h.call_procedure(u"Подключить", {}));
    check_balance_calls(h);
    int write_offs = check_write_offs(h);
    check_invalid_parameters(h);
    check_server_errors(h);
    write_offs += check_unknown_outcomes(h);
    check_setting_errors(h);
    check_client_recreated(h, url, second_url);
    std::printf("# write-offs executed: %d\n", write_offs);

    // A second object has its own settings.
    Component* second = nullptr;
    h.check(get_class_object(u"bonus", &second) != 0 && second != nullptr, "a second object is created");
    if (second != nullptr) {
        h.check(second->Init(&connection) && second->setMemManager(static_cast<MemoryManagerInterface*>(&memory)),
                "the second object initializes");
        Variant value = empty_variant();
        h.check(static_cast<LanguageExtender*>(second)->GetPropVal(h.property(u"Url"), &value) &&
                    value.vt == VT_EMPTY,
                "the second object's Url is unassigned");
        second->Done();
        h.check(destroy_object(&second) == 0 && second == nullptr, "DestroyObject frees the second object");
    }

    component->Done();
    Component* destroyed_copy = component;
    h.check(destroy_object(&component) == 0, "DestroyObject succeeds");
    h.check(component == nullptr, "DestroyObject clears the pointer");
    h.check(destroy_object(&destroyed_copy) == -1, "DestroyObject rejects an object already destroyed");
    h.check(destroy_object(nullptr) == -1, "DestroyObject rejects NULL");
    Component* foreign = reinterpret_cast<Component*>(&memory);
    h.check(destroy_object(&foreign) == -1, "DestroyObject rejects a foreign pointer");

    std::printf("# memory manager: %zu allocations, %zu frees\n", memory.allocations, memory.frees);
    h.check(memory.allocations > 0, "the component allocated its strings through the memory manager");
    h.check(memory.allocations == memory.frees, "every allocated block was freed once");
    h.check(memory.live.empty(), "no block is left allocated");
    h.check(memory.foreign_frees == 0, "no block was freed that the memory manager did not allocate");
    h.check(memory.frees_by_component == 0, "the component freed nothing");
    h.check(connection.unexpected_calls == 0, "the component called only AddError on the connection");

    std::printf("1..%zu\n", h.checks());
    if (h.failures() > 0) {
        std::printf("# %zu of %zu checks failed\n", h.failures(), h.checks());
        return 1;
    }
    return 0;
}
