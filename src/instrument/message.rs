//! Content recorded on GenAI spans: chat messages in the conventions' JSON
//! shape (`gen_ai.input.messages` / `gen_ai.output.messages`), and tool
//! arguments and results as text or JSON.

use serde::Serialize;
use serde_json::Value;

/// One chat message in the GenAI conventions' shape:
/// `{"role": "user", "parts": [{"type": "text", "content": "…"}]}`, plus
/// `finish_reason` on output messages.
///
/// ```
/// use reagentic_protocol::instrument::Message;
/// let answer = Message::assistant("Calling the weather tool")
///     .with_tool_call("call_1", "get_weather", serde_json::json!({"city": "Lisbon"}))
///     .with_finish_reason("tool_call");
/// assert_eq!(answer.role(), "assistant");
/// assert_eq!(answer.parts().len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Message {
    role: String,
    parts: Vec<Part>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finish_reason: Option<String>,
}

/// One part of a [`Message`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Part {
    /// Plain text.
    Text {
        /// The text.
        content: String,
    },
    /// A tool call the model asked for.
    ToolCall {
        /// The tool call's id, when the model gave one.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The tool's name.
        name: String,
        /// The arguments, as JSON.
        arguments: Value,
    },
    /// A tool's answer, sent back to the model.
    ToolCallResponse {
        /// The id of the tool call this answers.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The tool's result, as JSON.
        response: Value,
    },
}

impl Message {
    /// An empty message from `role` (`user`, `assistant`, `system`, `tool`, …).
    pub fn new(role: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            parts: Vec::new(),
            finish_reason: None,
        }
    }

    /// A text message from the user.
    pub fn user(text: impl Into<String>) -> Self {
        Self::new("user").with_text(text)
    }

    /// A text message from the model.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::new("assistant").with_text(text)
    }

    /// A system (instruction) message.
    pub fn system(text: impl Into<String>) -> Self {
        Self::new("system").with_text(text)
    }

    /// A tool's result sent back to the model, answering the call `call_id`.
    pub fn tool_response(call_id: impl Into<String>, response: impl Into<Value>) -> Self {
        let mut message = Self::new("tool");
        message.parts.push(Part::ToolCallResponse {
            id: Some(call_id.into()),
            response: response.into(),
        });
        message
    }

    /// Adds a text part.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.parts.push(Part::Text {
            content: text.into(),
        });
        self
    }

    /// Adds a tool-call part: the model asks for tool `name` with `arguments`.
    pub fn with_tool_call(
        mut self,
        call_id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<Value>,
    ) -> Self {
        self.parts.push(Part::ToolCall {
            id: Some(call_id.into()),
            name: name.into(),
            arguments: arguments.into(),
        });
        self
    }

    /// Sets why the model stopped (`stop`, `length`, `tool_call`, …), on an
    /// output message.
    pub fn with_finish_reason(mut self, reason: impl Into<String>) -> Self {
        self.finish_reason = Some(reason.into());
        self
    }

    /// The message's role.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The message's parts, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Why the model stopped, when set.
    pub fn finish_reason(&self) -> Option<&str> {
        self.finish_reason.as_deref()
    }
}

/// Messages as the JSON text the conventions allow on span attributes.
pub(crate) fn messages_json(messages: impl IntoIterator<Item = Message>) -> String {
    let messages: Vec<Message> = messages.into_iter().collect();
    // Strings and `serde_json::Value`s always serialize; the fallback only
    // keeps this total.
    serde_json::to_string(&messages).unwrap_or_else(|_| String::from("[]"))
}

/// Tool arguments or a tool result, as recorded on the span: text is kept as
/// it is (so a JSON string stays that JSON), JSON values are serialized.
///
/// ```
/// use reagentic_protocol::instrument::Content;
/// assert_eq!(Content::from(r#"{"city":"Lisbon"}"#).as_str(), r#"{"city":"Lisbon"}"#);
/// assert_eq!(Content::from(serde_json::json!({"city": "Lisbon"})).as_str(), r#"{"city":"Lisbon"}"#);
/// #[derive(serde::Serialize)]
/// struct Args { city: &'static str }
/// assert_eq!(Content::json(&Args { city: "Lisbon" }).unwrap().as_str(), r#"{"city":"Lisbon"}"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content(String);

impl Content {
    /// Any serializable value as JSON content; fails only where
    /// `serde_json` does (e.g. a map with non-string keys).
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(Self)
    }

    /// The text recorded on the span.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

impl From<String> for Content {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&String> for Content {
    fn from(text: &String) -> Self {
        Self(text.clone())
    }
}

impl From<Value> for Content {
    fn from(value: Value) -> Self {
        Self(value.to_string())
    }
}

impl From<&Value> for Content {
    fn from(value: &Value) -> Self {
        Self(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_have_the_conventions_json_shape() {
        let text = messages_json([
            Message::system("Be brief"),
            Message::user("Weather in Paris?"),
            Message::assistant("").with_tool_call(
                "call_1",
                "get_weather",
                json!({"location": "Paris"}),
            ),
            Message::tool_response("call_1", "rainy, 57°F"),
            Message::assistant("It rains.").with_finish_reason("stop"),
        ]);
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            json!([
                {"role": "system", "parts": [{"type": "text", "content": "Be brief"}]},
                {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
                {"role": "assistant", "parts": [
                    {"type": "text", "content": ""},
                    {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"location": "Paris"}}
                ]},
                {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy, 57°F"}]},
                {"role": "assistant", "parts": [{"type": "text", "content": "It rains."}], "finish_reason": "stop"}
            ])
        );
    }

    #[test]
    fn content_keeps_text_verbatim_and_serializes_json() {
        assert_eq!(Content::from("plain words").as_str(), "plain words");
        assert_eq!(Content::from(json!([1, 2])).as_str(), "[1,2]");
        let map: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        assert!(
            Content::json(&map).is_err(),
            "non-string keys are an error, not a panic"
        );
    }
}
