//! The properties and methods of the `Bonus` object, each with an English
//! and a Russian name, and the case-insensitive lookup the platform uses.

use std::ffi::c_long;
use std::sync::LazyLock;

use super::text::fold_case;
use crate::config::SETTING_NAMES;

/// Conversion of a value assigned to a setting property into the text that
/// [`crate::Config::set`] takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SettingKind {
    /// A string. `Неопределено` clears the setting.
    Text,
    /// A whole number or a string. `Config::set` checks the range.
    Integer,
    /// `Истина`/`Ложь`, 1/0, or a string `Config::set` accepts.
    Flag,
    /// A password: a string taken as it is, never readable back.
    Secret,
    /// A setting this table does not know yet: strings, whole numbers and
    /// Booleans are all passed on as text.
    Any,
}

/// A setting with its Russian property name.
struct KnownSetting {
    setting: &'static str,
    russian: &'static str,
    kind: SettingKind,
}

/// Russian names and kinds of the settings of [`SETTING_NAMES`]. The English
/// property name is the setting's name in UpperCamelCase (`timeout_ms` is
/// `TimeoutMs`). A setting added to `Config` without an entry here still
/// becomes a property, with its English name for both languages.
const KNOWN_SETTINGS: [KnownSetting; 21] = [
    setting("url", "АдресСервера", SettingKind::Text),
    setting("supplier", "КодПартнера", SettingKind::Integer),
    setting(
        "connect_timeout_ms",
        "ТаймаутПодключенияМс",
        SettingKind::Integer,
    ),
    setting("timeout_ms", "ТаймаутМс", SettingKind::Integer),
    setting("idle_timeout_ms", "ТаймаутПростояМс", SettingKind::Integer),
    setting(
        "max_body_bytes",
        "МаксРазмерОтветаБайт",
        SettingKind::Integer,
    ),
    setting("extra_ca_file", "ФайлДопСертификатовЦС", SettingKind::Text),
    setting("system_roots", "СистемныеСертификатыЦС", SettingKind::Flag),
    setting(
        "server_cert_sha256",
        "ОтпечаткиСертификатаСервера",
        SettingKind::Text,
    ),
    setting(
        "client_cert_file",
        "ФайлСертификатаКлиента",
        SettingKind::Text,
    ),
    setting("client_key_file", "ФайлКлючаКлиента", SettingKind::Text),
    setting(
        "client_key_password",
        "ПарольКлючаКлиента",
        SettingKind::Secret,
    ),
    setting("pkcs12_file", "ФайлPkcs12", SettingKind::Text),
    setting("pkcs12_password", "ПарольPkcs12", SettingKind::Secret),
    setting("allow_http", "РазрешитьHttp", SettingKind::Flag),
    setting("proxy", "Прокси", SettingKind::Text),
    setting("journal_file", "ФайлЖурналаСписаний", SettingKind::Text),
    setting("log_file", "ФайлЛога", SettingKind::Text),
    // A level name such as "debug" or its number 0 to 5.
    setting("log_level", "УровеньЛога", SettingKind::Integer),
    setting("log_max_bytes", "МаксРазмерЛогаБайт", SettingKind::Integer),
    setting("log_max_files", "ЧислоФайловЛога", SettingKind::Integer),
];

const fn setting(setting: &'static str, russian: &'static str, kind: SettingKind) -> KnownSetting {
    KnownSetting {
        setting,
        russian,
        kind,
    }
}

/// Read-only properties that describe the last call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResultProperty {
    LastStatus,
    LastStatusName,
    LastError,
    OutcomeUnknown,
    LastCause,
    LastDetail,
    LastServerCode,
    LastHttpStatus,
    LastAccount,
    LastBalance,
    LastSpendId,
    LastAttemptId,
    Version,
}

const RESULT_PROPERTIES: [(ResultProperty, &str, &str); 13] = [
    (ResultProperty::LastStatus, "LastStatus", "ПоследнийСтатус"),
    (
        ResultProperty::LastStatusName,
        "LastStatusName",
        "ИмяПоследнегоСтатуса",
    ),
    (ResultProperty::LastError, "LastError", "ПоследняяОшибка"),
    (
        ResultProperty::OutcomeUnknown,
        "OutcomeUnknown",
        "ИсходНеизвестен",
    ),
    (
        ResultProperty::LastCause,
        "LastCause",
        "ПричинаПоследнегоСтатуса",
    ),
    (
        ResultProperty::LastDetail,
        "LastDetail",
        "ДетальПоследнегоСтатуса",
    ),
    (
        ResultProperty::LastServerCode,
        "LastServerCode",
        "ПоследнийКодСервера",
    ),
    (
        ResultProperty::LastHttpStatus,
        "LastHttpStatus",
        "ПоследнийHttpСтатус",
    ),
    (
        ResultProperty::LastAccount,
        "LastAccount",
        "ПоследнийЛицевойСчет",
    ),
    (
        ResultProperty::LastBalance,
        "LastBalance",
        "ПоследнийБаланс",
    ),
    (
        ResultProperty::LastSpendId,
        "LastSpendId",
        "ПоследнийНомерСписания",
    ),
    (
        ResultProperty::LastAttemptId,
        "LastAttemptId",
        "ПоследняяПопыткаСписания",
    ),
    (ResultProperty::Version, "Version", "Версия"),
];

/// Meaning of a property: a setting, or a result of the last call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PropertyKind {
    Setting {
        /// The setting name that [`crate::Config::set`] takes.
        setting: &'static str,
        kind: SettingKind,
    },
    Result(ResultProperty),
}

/// A member's names in the forms the platform needs.
pub(crate) struct Names {
    pub english: String,
    pub russian: String,
    english_folded: String,
    russian_folded: String,
}

impl Names {
    fn new(english: &str, russian: &str) -> Names {
        Names {
            english: english.to_owned(),
            russian: russian.to_owned(),
            english_folded: fold_case(english),
            russian_folded: fold_case(russian),
        }
    }

    /// Returns the name for an alias of `GetPropName`/`GetMethodName`: 0 is
    /// English, 1 is Russian, and any other value gives English.
    pub fn for_alias(&self, alias: c_long) -> &str {
        if alias == 1 {
            &self.russian
        } else {
            &self.english
        }
    }

    fn matches(&self, folded: &str) -> bool {
        self.english_folded == folded || self.russian_folded == folded
    }

    /// Returns both names for messages, such as "TimeoutMs (ТаймаутМс)".
    pub fn both(&self) -> String {
        format!("{} ({})", self.english, self.russian)
    }
}

/// A property of the `Bonus` object.
pub(crate) struct Property {
    pub names: Names,
    pub kind: PropertyKind,
}

impl Property {
    pub fn is_readable(&self) -> bool {
        !matches!(
            self.kind,
            PropertyKind::Setting {
                kind: SettingKind::Secret,
                ..
            }
        )
    }

    pub fn is_writable(&self) -> bool {
        matches!(self.kind, PropertyKind::Setting { .. })
    }
}

/// The properties: every setting of [`SETTING_NAMES`] in its order, then the
/// result properties.
pub(crate) static PROPERTIES: LazyLock<Vec<Property>> = LazyLock::new(|| {
    let settings = SETTING_NAMES.iter().map(|&name| {
        let english = upper_camel_case(name);
        let known = KNOWN_SETTINGS.iter().find(|known| known.setting == name);
        Property {
            names: Names::new(
                &english,
                known.map_or(english.as_str(), |known| known.russian),
            ),
            kind: PropertyKind::Setting {
                setting: name,
                kind: known.map_or(SettingKind::Any, |known| known.kind),
            },
        }
    });
    let results = RESULT_PROPERTIES
        .iter()
        .map(|&(property, english, russian)| Property {
            names: Names::new(english, russian),
            kind: PropertyKind::Result(property),
        });
    settings.chain(results).collect()
});

/// The methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    CheckBonus,
    SpendBonus,
    PendingSpends,
    ResolveSpend,
    Connect,
}

/// A method parameter: its name in messages, and whether it may be omitted.
pub(crate) struct Parameter {
    pub name: &'static str,
    pub optional: bool,
}

/// A method of the `Bonus` object.
pub(crate) struct MethodInfo {
    pub names: Names,
    pub method: Method,
    pub parameters: &'static [Parameter],
    pub returns_value: bool,
}

const fn required(name: &'static str) -> Parameter {
    Parameter {
        name,
        optional: false,
    }
}

const fn optional(name: &'static str) -> Parameter {
    Parameter {
        name,
        optional: true,
    }
}

static CHECK_BONUS_PARAMETERS: [Parameter; 1] = [required("bonus_id")];
static SPEND_BONUS_PARAMETERS: [Parameter; 2] = [required("bonus_id"), required("amount")];
static RESOLVE_SPEND_PARAMETERS: [Parameter; 2] = [required("attempt_id"), optional("note")];

pub(crate) static METHODS: LazyLock<Vec<MethodInfo>> = LazyLock::new(|| {
    let method =
        |method, english, russian, parameters: &'static [Parameter], returns_value| MethodInfo {
            names: Names::new(english, russian),
            method,
            parameters,
            returns_value,
        };
    vec![
        method(
            Method::CheckBonus,
            "CheckBonus",
            "ПроверитьБаллы",
            &CHECK_BONUS_PARAMETERS,
            true,
        ),
        method(
            Method::SpendBonus,
            "SpendBonus",
            "СписатьБаллы",
            &SPEND_BONUS_PARAMETERS,
            true,
        ),
        method(
            Method::PendingSpends,
            "PendingSpends",
            "НезавершенныеСписания",
            &[],
            true,
        ),
        method(
            Method::ResolveSpend,
            "ResolveSpend",
            "ОтметитьСписание",
            &RESOLVE_SPEND_PARAMETERS,
            false,
        ),
        method(Method::Connect, "Connect", "Подключить", &[], false),
    ]
});

/// Returns the index of the property whose English or Russian name matches,
/// in any letter case.
pub(crate) fn find_property(name: &str) -> Option<usize> {
    let folded = fold_case(name);
    PROPERTIES
        .iter()
        .position(|property| property.names.matches(&folded))
}

/// Returns the index of the method whose English or Russian name matches,
/// in any letter case.
pub(crate) fn find_method(name: &str) -> Option<usize> {
    let folded = fold_case(name);
    METHODS
        .iter()
        .position(|method| method.names.matches(&folded))
}

/// Returns the property at an index the platform passed.
pub(crate) fn property(index: c_long) -> Option<&'static Property> {
    usize::try_from(index)
        .ok()
        .and_then(|index| PROPERTIES.get(index))
}

/// Returns the method at an index the platform passed.
pub(crate) fn method(index: c_long) -> Option<&'static MethodInfo> {
    usize::try_from(index)
        .ok()
        .and_then(|index| METHODS.get(index))
}

/// Turns a setting name into its English property name: `pkcs12_file` into
/// `Pkcs12File`.
fn upper_camel_case(name: &str) -> String {
    name.split('_')
        .map(|word| {
            let mut characters = word.chars();
            characters.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(characters).collect()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_a_russian_name() {
        for name in SETTING_NAMES {
            assert!(
                KNOWN_SETTINGS.iter().any(|known| known.setting == name),
                "setting {name:?} has no Russian property name in KNOWN_SETTINGS"
            );
        }
    }

    #[test]
    fn english_names_follow_the_settings() {
        assert_eq!(upper_camel_case("url"), "Url");
        assert_eq!(upper_camel_case("connect_timeout_ms"), "ConnectTimeoutMs");
        assert_eq!(upper_camel_case("pkcs12_password"), "Pkcs12Password");
        assert_eq!(upper_camel_case("server_cert_sha256"), "ServerCertSha256");
        assert_eq!(upper_camel_case("extra_ca_file"), "ExtraCaFile");
    }

    #[test]
    fn names_are_unique_in_any_case() {
        let mut folded: Vec<String> = PROPERTIES
            .iter()
            .map(|property| &property.names)
            .chain(METHODS.iter().map(|method| &method.names))
            .flat_map(|names| [names.english_folded.clone(), names.russian_folded.clone()])
            .collect();
        let count = folded.len();
        folded.sort();
        folded.dedup();
        // A setting without a Russian name would repeat its English name.
        assert_eq!(folded.len(), count, "two members share a name");
    }

    #[test]
    fn lookup_ignores_case_in_both_languages() {
        let timeout = find_property("TimeoutMs").unwrap();
        assert_eq!(find_property("timeoutms"), Some(timeout));
        assert_eq!(find_property("ТАЙМАУТМС"), Some(timeout));
        assert_eq!(find_property("таймаутМс"), Some(timeout));
        assert_eq!(find_property("Timeout"), None);

        let spend = find_method("SpendBonus").unwrap();
        assert_eq!(find_method("СПИСАТЬБАЛЛЫ"), Some(spend));
        assert_eq!(find_method("списатьбаллы"), Some(spend));
        assert_eq!(METHODS[spend].method, Method::SpendBonus);
    }

    #[test]
    fn alias_selects_the_language() {
        let index = find_property("OutcomeUnknown").unwrap();
        let names = &PROPERTIES[index].names;
        assert_eq!(names.for_alias(0), "OutcomeUnknown");
        assert_eq!(names.for_alias(1), "ИсходНеизвестен");
        assert_eq!(names.for_alias(7), "OutcomeUnknown");
    }

    #[test]
    fn passwords_are_write_only() {
        for name in ["Pkcs12Password", "ClientKeyPassword"] {
            let property = &PROPERTIES[find_property(name).unwrap()];
            assert!(!property.is_readable(), "{name}");
            assert!(property.is_writable(), "{name}");
        }
        let status = &PROPERTIES[find_property("LastStatus").unwrap()];
        assert!(status.is_readable());
        assert!(!status.is_writable());
    }
}
