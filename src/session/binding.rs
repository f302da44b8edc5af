//! Client binding: a keyed hash of who the client appears to be, sealed into the token.

use std::net::IpAddr;

use crate::error::{ConfigError, PolicyError};
use crate::token::claims::Flags;

/// Which client properties a token is bound to.
///
/// ```
/// use sealed_session::{Binding, Policy};
/// // Bind to the client's /24 (IPv4) or /48 (IPv6) and its User-Agent.
/// let binding = Binding::ip_prefix().with_ip_prefix(24, 48).with_user_agent();
/// Policy::default().with_binding(binding).validate()?;
/// # Ok::<(), sealed_session::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    ip_prefix: Option<(u8, u8)>,
    user_agent: bool,
    app_value: bool,
}

/// What the server knows about the client making a request.
///
/// ```
/// use sealed_session::ClientContext;
/// let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
/// assert_eq!(client.user_agent, Some("Firefox".as_bytes()));
/// assert!(client.app_value.is_none());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientContext<'a> {
    /// The client's address (from the socket, or a trusted proxy header).
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header's bytes exactly as sent (any bytes, not only ASCII).
    pub user_agent: Option<&'a [u8]>,
    /// An application-supplied value, e.g. a TLS exporter or channel-binding value.
    pub app_value: Option<&'a [u8]>,
}

impl<'a> ClientContext<'a> {
    /// A context with an address and a User-Agent.
    ///
    /// ```
    /// use sealed_session::ClientContext;
    /// let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Mozilla/5.0"));
    /// ```
    pub fn new(ip: Option<IpAddr>, user_agent: Option<&'a str>) -> Self {
        Self::with_raw_user_agent(ip, user_agent.map(str::as_bytes))
    }

    /// A context with an address and the `User-Agent` header's raw bytes (header values may
    /// hold any byte but control characters; all of them are bound).
    ///
    /// ```
    /// use sealed_session::ClientContext;
    /// let client = ClientContext::with_raw_user_agent(None, Some("Navigateur été".as_bytes()));
    /// ```
    pub fn with_raw_user_agent(ip: Option<IpAddr>, user_agent: Option<&'a [u8]>) -> Self {
        Self {
            ip,
            user_agent,
            app_value: None,
        }
    }

    /// Adds an application-supplied binding value.
    ///
    /// ```
    /// use sealed_session::ClientContext;
    /// let exporter = [0u8; 32]; // e.g. from the TLS connection (RFC 9266)
    /// let client = ClientContext::new(None, Some("Firefox")).with_app_value(&exporter);
    /// assert_eq!(client.app_value, Some(&exporter[..]));
    /// ```
    #[must_use]
    pub fn with_app_value(mut self, value: &'a [u8]) -> Self {
        self.app_value = Some(value);
        self
    }
}

impl Binding {
    /// No binding: a stolen token works from anywhere until it expires or is revoked.
    ///
    /// ```
    /// use sealed_session::Binding;
    /// assert_eq!(Binding::none().flags().0, 0);
    /// ```
    pub const fn none() -> Self {
        Self {
            ip_prefix: None,
            user_agent: false,
            app_value: false,
        }
    }

    /// IPv4 /24 and IPv6 /56.
    ///
    /// ```
    /// use sealed_session::{token::Flags, Binding};
    /// assert_eq!(Binding::ip_prefix().flags(), Flags(Flags::BIND_IP));
    /// ```
    pub const fn ip_prefix() -> Self {
        Self {
            ip_prefix: Some((24, 56)),
            user_agent: false,
            app_value: false,
        }
    }

    /// The User-Agent header.
    ///
    /// ```
    /// use sealed_session::{token::Flags, Binding};
    /// assert_eq!(Binding::user_agent().flags(), Flags(Flags::BIND_USER_AGENT));
    /// ```
    pub const fn user_agent() -> Self {
        Self {
            ip_prefix: None,
            user_agent: true,
            app_value: false,
        }
    }

    /// IP prefix (IPv4 /24, IPv6 /56) and User-Agent: the default.
    ///
    /// ```
    /// use sealed_session::{Binding, Policy};
    /// assert_eq!(Policy::default().binding(), &Binding::ip_and_user_agent());
    /// ```
    pub const fn ip_and_user_agent() -> Self {
        Self {
            ip_prefix: Some((24, 56)),
            user_agent: true,
            app_value: false,
        }
    }

    /// An application-supplied value such as a TLS exporter (RFC 9266).
    ///
    /// ```
    /// use sealed_session::{token::Flags, Binding};
    /// assert!(Binding::app_value().flags().contains(Flags::BIND_APP_VALUE));
    /// ```
    pub const fn app_value() -> Self {
        Self {
            ip_prefix: None,
            user_agent: false,
            app_value: true,
        }
    }

    /// Sets the IP prefix lengths (IPv4 up to 32, IPv6 up to 128).
    ///
    /// ```
    /// use sealed_session::{Binding, Policy};
    /// let exact = Binding::ip_prefix().with_ip_prefix(32, 128);
    /// assert!(Policy::default().with_binding(exact).validate().is_ok());
    /// let too_long = Binding::ip_prefix().with_ip_prefix(33, 128);
    /// assert!(Policy::default().with_binding(too_long).validate().is_err());
    /// ```
    #[must_use]
    pub const fn with_ip_prefix(mut self, v4: u8, v6: u8) -> Self {
        self.ip_prefix = Some((v4, v6));
        self
    }

    /// Also binds the User-Agent.
    ///
    /// ```
    /// use sealed_session::Binding;
    /// assert_eq!(Binding::ip_prefix().with_user_agent(), Binding::ip_and_user_agent());
    /// ```
    #[must_use]
    pub const fn with_user_agent(mut self) -> Self {
        self.user_agent = true;
        self
    }

    /// Also binds the application value.
    ///
    /// ```
    /// use sealed_session::{token::Flags, Binding};
    /// let flags = Binding::user_agent().with_app_value().flags();
    /// assert!(flags.contains(Flags::BIND_USER_AGENT | Flags::BIND_APP_VALUE));
    /// ```
    #[must_use]
    pub const fn with_app_value(mut self) -> Self {
        self.app_value = true;
        self
    }

    /// The token flags recording this binding.
    ///
    /// ```
    /// use sealed_session::{token::Flags, Binding};
    /// let flags = Binding::ip_and_user_agent().flags();
    /// assert!(flags.contains(Flags::BIND_IP) && flags.contains(Flags::BIND_USER_AGENT));
    /// assert!(!flags.contains(Flags::BIND_APP_VALUE));
    /// ```
    pub const fn flags(&self) -> Flags {
        let mut bits = 0;
        if self.ip_prefix.is_some() {
            bits |= Flags::BIND_IP;
        }
        if self.user_agent {
            bits |= Flags::BIND_USER_AGENT;
        }
        if self.app_value {
            bits |= Flags::BIND_APP_VALUE;
        }
        Flags(bits)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match self.ip_prefix {
            Some((v4, v6)) if v4 > 32 || v6 > 128 => Err(PolicyError::PrefixTooLong.into()),
            _ => Ok(()),
        }
    }

    /// What every mint binds: sets `claims.flags` to this binding's inputs and encodes
    /// `client` for them (`None` for an unbound token). The vector generator and the cache
    /// tests call it; mints take the same steps without the intermediate allocation.
    #[cfg(any(test, feature = "test-vectors"))]
    pub(crate) fn bind(
        &self,
        claims: &mut crate::token::claims::Claims,
        client: &ClientContext<'_>,
    ) -> Option<Vec<u8>> {
        claims.flags = self.flags();
        self.input(claims.flags, client)
    }

    /// The client context encoded for the inputs named by `flags` (spec/sessions.md §6), or
    /// `None` for an unbound token (`flags` = 0). The sealer turns it into the binding value.
    pub(crate) fn input(&self, flags: Flags, client: &ClientContext<'_>) -> Option<Vec<u8>> {
        if flags.0 == 0 {
            return None;
        }
        let mut input = Vec::with_capacity(64 + client.user_agent.map_or(0, <[u8]>::len));
        input.push(flags.0);
        if flags.contains(Flags::BIND_IP) {
            let (v4, v6) = self.ip_prefix.unwrap_or((24, 56));
            push_field(&mut input, &masked_ip(client.ip, v4, v6));
        }
        if flags.contains(Flags::BIND_USER_AGENT) {
            push_optional(&mut input, client.user_agent);
        }
        if flags.contains(Flags::BIND_APP_VALUE) {
            push_optional(&mut input, client.app_value);
        }
        Some(input)
    }

    /// Whether a token bound to the inputs in `flags` satisfies this policy: every input the
    /// policy binds must be bound in the token (a token bound to less does not match).
    pub(crate) fn accepts(&self, flags: Flags) -> bool {
        flags.contains(self.flags().0)
    }
}

/// An absent value (`0x00`) differs from a present, empty one (`0x01 ‖ be64(0)`): a client
/// that sends no header is not the client that sent an empty one.
fn push_optional(input: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => input.push(0),
        Some(bytes) => {
            input.push(1);
            push_field(input, bytes);
        }
    }
}

/// Length-prefixed so that field boundaries cannot be shifted between inputs.
fn push_field(input: &mut Vec<u8>, bytes: &[u8]) {
    input.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    input.extend_from_slice(bytes);
}

fn masked_ip(ip: Option<IpAddr>, v4_bits: u8, v6_bits: u8) -> Vec<u8> {
    match ip {
        None => vec![0],
        Some(IpAddr::V4(a)) => mask(4, &a.octets(), v4_bits),
        Some(IpAddr::V6(a)) => match a.to_ipv4_mapped() {
            Some(v4) => mask(4, &v4.octets(), v4_bits),
            None => mask(6, &a.octets(), v6_bits),
        },
    }
}

fn mask(family: u8, octets: &[u8], bits: u8) -> Vec<u8> {
    let mut out = vec![family, bits];
    let mut remaining = u32::from(bits);
    for &b in octets {
        let keep = remaining.min(8);
        remaining -= keep;
        let m = if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
        out.push(b & m);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_user_agent_byte_is_encoded_and_absent_differs_from_empty() {
        let b = Binding::user_agent();
        let input = |ua: Option<&[u8]>| b.input(b.flags(), &ClientContext::with_raw_user_agent(None, ua));
        let latin1: &[u8] = b"Navigateur \xe9t\xe9";
        let other: &[u8] = b"Navigateur \xe9t\xe8";
        assert_ne!(input(Some(latin1)), input(Some(other)));
        assert_ne!(input(Some(latin1)), input(None));
        assert_ne!(input(Some(b"")), input(None));
        assert_eq!(input(None), Some(vec![Flags::BIND_USER_AGENT, 0]));
        assert_eq!(Binding::none().input(Flags(0), &ClientContext::default()), None);
    }

    /// The bytes of spec/sessions.md §6's DPoP example, written out by hand.
    #[test]
    fn a_dpop_binding_input_is_the_thumbprint_as_application_value() {
        let jkt = [0xab; 32];
        let client = ClientContext::new("203.0.113.7".parse().ok(), Some("app/1.0")).with_app_value(&jkt);
        let flags = Flags(Flags::BIND_IP | Flags::BIND_USER_AGENT | Flags::BIND_APP_VALUE);
        let mut expected = vec![0x07];
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 6, 4, 24, 203, 0, 113, 0]);
        expected.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 7]);
        expected.extend_from_slice(b"app/1.0");
        expected.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 32]);
        expected.extend_from_slice(&jkt);
        let input = Binding::ip_and_user_agent().input(flags, &client).unwrap();
        assert_eq!(input, expected);
        assert_eq!(input.len(), 1 + 14 + 16 + 41);
    }

    #[test]
    fn a_token_bound_to_fewer_inputs_than_the_policy_is_not_accepted() {
        let b = Binding::ip_and_user_agent();
        assert!(b.accepts(b.flags()));
        assert!(!b.accepts(Flags(Flags::BIND_IP)));
        assert!(Binding::ip_prefix().accepts(b.flags()));
    }

    #[test]
    fn prefixes_mask_host_bits() {
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "203.0.113.200".parse().unwrap();
        let c: IpAddr = "203.0.114.7".parse().unwrap();
        assert_eq!(masked_ip(Some(a), 24, 56), masked_ip(Some(b), 24, 56));
        assert_ne!(masked_ip(Some(a), 24, 56), masked_ip(Some(c), 24, 56));
        let m: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(masked_ip(Some(a), 24, 56), masked_ip(Some(m), 24, 56));
        let x: IpAddr = "2001:db8:1:200::1".parse().unwrap();
        let y: IpAddr = "2001:db8:1:2ff::9".parse().unwrap();
        assert_eq!(masked_ip(Some(x), 24, 56), masked_ip(Some(y), 24, 56));
    }
}
