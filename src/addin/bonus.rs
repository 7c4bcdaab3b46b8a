//! The state and operations of one `Bonus` object: its settings, the client
//! made from them, and the results of the last call. Nothing here touches
//! the platform's pointers; `object.rs` converts between them and these types.

use std::collections::HashMap;

use super::json::pending_spends_json;
use super::members::{Method, MethodInfo, Property, PropertyKind, ResultProperty, SettingKind};
use super::value::{Output, Value};
use crate::client::Client;
use crate::config::Config;
use crate::error::{Error, Status};

/// Maximum length of a reconciliation note in bytes of UTF-8, as in the C ABI.
const MAX_NOTE_BYTES: usize = 4096;

/// Results of the last method call, or of the last property assignment that
/// failed. Each call starts from an empty record.
#[derive(Default)]
struct LastCall {
    error: Option<Error>,
    account: Option<String>,
    balance: Option<i64>,
    spend_id: Option<String>,
    attempt_id: Option<String>,
}

/// One `AddIn.Esbyt.Bonus` object of 1C.
#[derive(Default)]
pub(crate) struct Bonus {
    config: Config,
    /// The value last assigned to each setting property, as read back.
    /// Passwords are never stored here.
    assigned: HashMap<&'static str, Output>,
    /// Created from `config` by the first call that needs it, and dropped
    /// when a setting changes.
    client: Option<Client>,
    last: LastCall,
}

impl Bonus {
    /// Assigns a property. A failure is recorded in the result properties
    /// like a failed call.
    pub fn set_property(&mut self, property: &Property, value: &Value) -> Result<(), Error> {
        let result = self.assign(property, value);
        if let Err(error) = &result {
            self.record_failure(error.clone());
        }
        result
    }

    fn assign(&mut self, property: &Property, value: &Value) -> Result<(), Error> {
        let PropertyKind::Setting { setting, kind } = property.kind else {
            return Err(Error::invalid_argument(format!(
                "{} is read-only: it describes the last call",
                property.names.both()
            )));
        };
        let cannot_set = |error: Error| {
            Error::new(
                error.status(),
                format!("cannot set {}: {}", property.names.both(), error.message()),
            )
        };

        let text = setting_text(kind, value).map_err(cannot_set)?;
        let mut config = self.config.clone();
        config.set(setting, &text).map_err(cannot_set)?;
        if config != self.config {
            self.config = config;
            self.client = None;
        }

        match read_back(kind, value) {
            Some(output) => self.assigned.insert(setting, output),
            None => self.assigned.remove(setting),
        };
        Ok(())
    }

    /// Reads a property. Settings read back the value last assigned, or
    /// `Неопределено` while the library's default applies.
    pub fn get_property(&self, property: &Property) -> Result<Output, Error> {
        match property.kind {
            PropertyKind::Setting {
                kind: SettingKind::Secret,
                ..
            } => Err(Error::invalid_argument(format!(
                "{} is write-only: passwords are never returned",
                property.names.both()
            ))),
            PropertyKind::Setting { setting, .. } => {
                Ok(self.assigned.get(setting).cloned().unwrap_or(Output::Empty))
            }
            PropertyKind::Result(result) => Ok(self.result_property(result)),
        }
    }

    fn result_property(&self, property: ResultProperty) -> Output {
        let last = &self.last;
        let error = last.error.as_ref();
        let status = error.map_or(Status::Ok, Error::status);
        let text = |value: &Option<String>| Output::Text(value.clone().unwrap_or_default());
        match property {
            ResultProperty::LastStatus => Output::Integer(status.code().into()),
            ResultProperty::LastStatusName => Output::Text(status.name().to_owned()),
            ResultProperty::LastError => Output::Text(
                error
                    .map(|error| error.message().to_owned())
                    .unwrap_or_default(),
            ),
            ResultProperty::OutcomeUnknown => Output::Bool(status == Status::OutcomeUnknown),
            ResultProperty::LastCause => Output::Integer(
                error
                    .and_then(Error::cause)
                    .map_or(0, |cause| cause.code().into()),
            ),
            ResultProperty::LastDetail => {
                Output::Integer(error.map_or(0, |error| error.detail().code().into()))
            }
            ResultProperty::LastServerCode => {
                Output::Integer(error.and_then(Error::server_code).unwrap_or(0))
            }
            ResultProperty::LastHttpStatus => {
                Output::Integer(error.and_then(Error::http_status).map_or(0, i64::from))
            }
            ResultProperty::LastAccount => text(&last.account),
            ResultProperty::LastBalance => last.balance.map_or(Output::Empty, Output::Integer),
            ResultProperty::LastSpendId => text(&last.spend_id),
            ResultProperty::LastAttemptId => text(&last.attempt_id),
            ResultProperty::Version => Output::Text(env!("CARGO_PKG_VERSION").to_owned()),
        }
    }

    /// Calls a method with the arguments the platform passed; omitted
    /// trailing arguments count as `Неопределено`. The result properties
    /// describe this call afterwards.
    pub fn call(&mut self, method: &MethodInfo, arguments: &[Value]) -> Result<Output, Error> {
        self.last = LastCall::default();
        let result = self.run(method, arguments);
        if let Err(error) = &result {
            self.last.error = Some(error.clone());
        }
        result
    }

    fn run(&mut self, method: &MethodInfo, arguments: &[Value]) -> Result<Output, Error> {
        if arguments.len() > method.parameters.len() {
            return Err(Error::invalid_argument(format!(
                "{} takes {} parameters, but {} were passed",
                method.names.both(),
                method.parameters.len(),
                arguments.len()
            )));
        }
        let argument = |index: usize| arguments.get(index).unwrap_or(&Value::Empty);

        match method.method {
            Method::CheckBonus => {
                let bonus_id = argument(0).to_bonus_id("bonus_id")?;
                let balance = self.client()?.check_bonus(&bonus_id)?;
                self.last.account = Some(balance.account);
                self.last.balance = Some(balance.amount);
                Ok(Output::Integer(balance.amount))
            }
            Method::SpendBonus => {
                let bonus_id = argument(0).to_bonus_id("bonus_id")?;
                let amount = argument(1).to_integer("amount")?;
                let result = self.client()?.spend_bonus(&bonus_id, amount);
                match result {
                    Ok(write_off) => {
                        self.last.attempt_id = write_off.attempt_id;
                        self.last.spend_id = Some(write_off.spend_id.clone());
                        Ok(Output::Text(write_off.spend_id))
                    }
                    Err(error) => {
                        self.last.attempt_id = error.attempt_id().map(str::to_owned);
                        Err(error)
                    }
                }
            }
            Method::PendingSpends => {
                let pending = self.client()?.pending_spends()?;
                Ok(Output::Text(pending_spends_json(&pending)))
            }
            Method::ResolveSpend => {
                let attempt_id = argument(0).to_text("attempt_id", None)?;
                let note = argument(1).to_text("note", Some(""))?;
                if note.len() > MAX_NOTE_BYTES {
                    return Err(Error::invalid_argument(format!(
                        "note is {} bytes long in UTF-8: expected at most {MAX_NOTE_BYTES}",
                        note.len()
                    )));
                }
                self.client()?.resolve_spend(&attempt_id, &note)?;
                Ok(Output::Empty)
            }
            Method::Connect => {
                self.client()?;
                Ok(Output::Empty)
            }
        }
    }

    /// Returns the client, creating it from the settings on first use. The
    /// URL, the files and the journal are checked here, so a bad setting
    /// fails the first call with a configuration error.
    fn client(&mut self) -> Result<&Client, Error> {
        let client = match self.client.take() {
            Some(client) => client,
            None => Client::new(self.config.clone())?,
        };
        Ok(self.client.insert(client))
    }

    /// Replaces the result properties with a failure that did not come from
    /// a call, such as a rejected property value or a caught panic.
    pub fn record_failure(&mut self, error: Error) {
        self.last = LastCall {
            error: Some(error),
            ..LastCall::default()
        };
    }

    /// Marks the last call failed while keeping its results, for a failure
    /// after the call itself succeeded, such as returning its value.
    pub fn record_error(&mut self, error: Error) {
        self.last.error = Some(error);
    }

    /// Drops the client and its kept-alive connections; the next call
    /// creates a new one.
    pub fn disconnect(&mut self) {
        self.client = None;
    }
}

/// Converts a value assigned to a setting property into the text that
/// `Config::set` takes. `Неопределено` and `NULL` give the empty text, which
/// clears an optional setting.
fn setting_text(kind: SettingKind, value: &Value) -> Result<String, Error> {
    let name = "value";
    match (kind, value) {
        (_, Value::Empty | Value::Null) => Ok(String::new()),
        (_, Value::Text(text)) => Ok(text.clone()),
        (SettingKind::Integer | SettingKind::Flag | SettingKind::Any, Value::Integer(_))
        | (SettingKind::Integer | SettingKind::Flag | SettingKind::Any, Value::Float(_)) => {
            Ok(value.to_integer(name)?.to_string())
        }
        (SettingKind::Flag | SettingKind::Any, Value::Bool(flag)) => {
            Ok(if *flag { "1" } else { "0" }.to_owned())
        }
        (SettingKind::Integer, other) => Err(wrong_setting_type(other, "a number")),
        (SettingKind::Flag, other) => Err(wrong_setting_type(other, "Boolean (Булево)")),
        (SettingKind::Text | SettingKind::Secret | SettingKind::Any, other) => {
            Err(wrong_setting_type(other, "a string"))
        }
    }
}

fn wrong_setting_type(value: &Value, expected: &str) -> Error {
    Error::invalid_argument(format!(
        "the value is {}: expected {expected}",
        value.type_name()
    ))
}

/// Returns what reading the setting gives after this value was assigned:
/// the value as it was given, whole numbers as numbers. None for a password
/// and for `Неопределено`, which reads back as `Неопределено`.
fn read_back(kind: SettingKind, value: &Value) -> Option<Output> {
    if kind == SettingKind::Secret {
        return None;
    }
    match value {
        Value::Text(text) => Some(Output::Text(text.clone())),
        Value::Bool(flag) => Some(Output::Bool(*flag)),
        Value::Integer(_) | Value::Float(_) => value.to_integer("value").ok().map(Output::Integer),
        Value::Empty | Value::Null | Value::Unsupported(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addin::members::{METHODS, PROPERTIES, find_method, find_property};

    fn property(name: &str) -> &'static Property {
        &PROPERTIES[find_property(name).unwrap()]
    }

    fn method(name: &str) -> &'static MethodInfo {
        &METHODS[find_method(name).unwrap()]
    }

    #[test]
    fn settings_read_back_as_assigned() {
        let mut bonus = Bonus::default();
        let url = property("Url");
        assert_eq!(bonus.get_property(url).unwrap(), Output::Empty);

        bonus
            .set_property(url, &Value::Text("http://127.0.0.1:1/".into()))
            .unwrap();
        bonus
            .set_property(property("ТаймаутМс"), &Value::Float(2500.0))
            .unwrap();
        bonus
            .set_property(property("AllowHttp"), &Value::Bool(true))
            .unwrap();
        bonus
            .set_property(property("Supplier"), &Value::Text("1111".into()))
            .unwrap();

        assert_eq!(
            bonus.get_property(url).unwrap(),
            Output::Text("http://127.0.0.1:1/".into())
        );
        assert_eq!(
            bonus.get_property(property("TimeoutMs")).unwrap(),
            Output::Integer(2500)
        );
        assert_eq!(
            bonus.get_property(property("AllowHttp")).unwrap(),
            Output::Bool(true)
        );
        assert_eq!(bonus.config.timeout.as_millis(), 2500);
        assert!(bonus.config.allow_http);
        assert_eq!(bonus.config.supplier, Some(1111));

        bonus
            .set_property(property("Supplier"), &Value::Empty)
            .unwrap();
        assert_eq!(bonus.config.supplier, None);
        assert_eq!(
            bonus.get_property(property("Supplier")).unwrap(),
            Output::Empty
        );
    }

    #[test]
    fn rejected_setting_keeps_config_and_records_failure() {
        let mut bonus = Bonus::default();
        let cases = [
            (
                "TimeoutMs",
                Value::Float(2.5),
                "cannot set TimeoutMs (ТаймаутМс): value 2.5 is invalid: expected a whole number",
            ),
            (
                "TimeoutMs",
                Value::Integer(0),
                "cannot set TimeoutMs (ТаймаутМс): timeout_ms \"0\" is invalid: expected an integer from 1 to 600000",
            ),
            (
                "Url",
                Value::Integer(5),
                "cannot set Url (АдресСервера): the value is Number (Число): expected a string",
            ),
            (
                "AllowHttp",
                Value::Integer(2),
                "cannot set AllowHttp (РазрешитьHttp): allow_http \"2\" is invalid: expected 1 or 0 (true or false)",
            ),
            (
                "LastStatus",
                Value::Integer(0),
                "LastStatus (ПоследнийСтатус) is read-only: it describes the last call",
            ),
        ];
        for (name, value, expected) in cases {
            let error = bonus.set_property(property(name), &value).unwrap_err();
            assert_eq!(error.status(), Status::InvalidArgument, "{name}");
            assert_eq!(error.message(), expected, "{name}");
            assert_eq!(
                bonus.get_property(property("LastError")).unwrap(),
                Output::Text(expected.to_owned())
            );
            assert_eq!(
                bonus.get_property(property("LastStatus")).unwrap(),
                Output::Integer(1)
            );
        }
        assert_eq!(bonus.config, Config::default());
    }

    #[test]
    fn password_is_never_read_back() {
        let mut bonus = Bonus::default();
        let password = property("ПарольPkcs12");
        bonus
            .set_property(password, &Value::Text(" secret ".into()))
            .unwrap();
        assert_eq!(
            bonus
                .config
                .pkcs12_password
                .as_ref()
                .map(|secret| secret.expose()),
            Some(" secret ")
        );
        let error = bonus.get_property(password).unwrap_err();
        assert_eq!(
            error.message(),
            "Pkcs12Password (ПарольPkcs12) is write-only: passwords are never returned"
        );
    }

    #[test]
    fn changed_setting_drops_the_client() {
        let mut bonus = Bonus::default();
        bonus
            .set_property(property("Url"), &Value::Text("http://127.0.0.1:1/".into()))
            .unwrap();
        bonus
            .set_property(property("AllowHttp"), &Value::Bool(true))
            .unwrap();
        bonus
            .set_property(property("SystemRoots"), &Value::Bool(false))
            .unwrap();
        bonus.call(method("Connect"), &[]).unwrap();
        assert!(bonus.client.is_some());

        bonus
            .set_property(property("AllowHttp"), &Value::Bool(true))
            .unwrap();
        assert!(
            bonus.client.is_some(),
            "an unchanged value keeps the client"
        );

        bonus
            .set_property(property("TimeoutMs"), &Value::Integer(1000))
            .unwrap();
        assert!(bonus.client.is_none(), "a changed value drops the client");
    }

    #[test]
    fn call_checks_arguments_before_sending() {
        let mut bonus = Bonus::default();
        let spend = method("СписатьБаллы");
        let cases = [
            (
                vec![Value::Text("2700009601205".into()), Value::Float(10.5)],
                "amount 10.5 is invalid: expected a whole number",
            ),
            (
                vec![Value::Text("2700009601205".into())],
                "amount is missing",
            ),
            (
                vec![Value::Bool(true), Value::Integer(10)],
                "bonus_id is Boolean (Булево): expected a string of digits",
            ),
            (
                vec![
                    Value::Text("2700009601205".into()),
                    Value::Integer(10),
                    Value::Integer(1),
                ],
                "SpendBonus (СписатьБаллы) takes 2 parameters, but 3 were passed",
            ),
        ];
        for (arguments, expected) in cases {
            let error = bonus.call(spend, &arguments).unwrap_err();
            assert_eq!(error.status(), Status::InvalidArgument, "{expected}");
            assert_eq!(error.message(), expected);
        }
        assert!(
            bonus.client.is_none(),
            "no client is created for a bad argument"
        );
    }

    #[test]
    fn connect_without_url_is_config_error() {
        let mut bonus = Bonus::default();
        let error = bonus.call(method("Connect"), &[]).unwrap_err();
        assert_eq!(error.status(), Status::Config);
        assert_eq!(
            bonus.get_property(property("LastStatusName")).unwrap(),
            Output::Text("ESBYT_CONFIG".into())
        );
        assert_eq!(
            bonus.get_property(property("OutcomeUnknown")).unwrap(),
            Output::Bool(false)
        );
    }
}
