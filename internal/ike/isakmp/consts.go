package isakmp

import "fmt"

// PayloadType is the type of a payload (RFC 2408 §3.1, RFC 3947 §3).
type PayloadType uint8

// The payload types gif knows.
const (
	PayloadNone      PayloadType = 0
	PayloadSA        PayloadType = 1
	PayloadProposal  PayloadType = 2
	PayloadTransform PayloadType = 3
	PayloadKE        PayloadType = 4
	PayloadID        PayloadType = 5
	PayloadCert      PayloadType = 6
	PayloadCertReq   PayloadType = 7
	PayloadHash      PayloadType = 8
	PayloadSig       PayloadType = 9
	PayloadNonce     PayloadType = 10
	PayloadNotify    PayloadType = 11
	PayloadDelete    PayloadType = 12
	PayloadVendorID  PayloadType = 13
	PayloadNATD      PayloadType = 20
	PayloadNATOA     PayloadType = 21
)

var payloadNames = map[PayloadType]string{
	PayloadNone: "NONE", PayloadSA: "SA", PayloadProposal: "P", PayloadTransform: "T",
	PayloadKE: "KE", PayloadID: "ID", PayloadCert: "CERT", PayloadCertReq: "CR",
	PayloadHash: "HASH", PayloadSig: "SIG", PayloadNonce: "NONCE", PayloadNotify: "N",
	PayloadDelete: "D", PayloadVendorID: "VID", PayloadNATD: "NAT-D", PayloadNATOA: "NAT-OA",
}

func (t PayloadType) String() string { return name(payloadNames, t) }

// ExchangeType is the exchange a message belongs to (RFC 2408 §3.1, RFC
// 2409 §5).
type ExchangeType uint8

// The exchange types of IKEv1.
const (
	ExchangeBase          ExchangeType = 1
	ExchangeMain          ExchangeType = 2 // Identity Protection
	ExchangeAuthOnly      ExchangeType = 3
	ExchangeAggressive    ExchangeType = 4
	ExchangeInformational ExchangeType = 5
	ExchangeQuick         ExchangeType = 32
	ExchangeNewGroup      ExchangeType = 33
)

var exchangeNames = map[ExchangeType]string{
	ExchangeBase: "Base", ExchangeMain: "Main Mode", ExchangeAuthOnly: "Authentication Only",
	ExchangeAggressive: "Aggressive Mode", ExchangeInformational: "Informational",
	ExchangeQuick: "Quick Mode", ExchangeNewGroup: "New Group Mode",
}

func (t ExchangeType) String() string { return name(exchangeNames, t) }

// DOIIPsec is the IPsec domain of interpretation (RFC 2407 §4.2), the only
// one gif speaks.
const DOIIPsec = 1

// SituationIdentityOnly is the IPsec DOI's situation without labels (RFC
// 2407 §4.2.1).
const SituationIdentityOnly = 1

// ProtocolID names a security protocol in proposals, notifies and deletes
// (RFC 2407 §4.4.1).
type ProtocolID uint8

// The protocol IDs of the IPsec DOI.
const (
	ProtoISAKMP ProtocolID = 1
	ProtoAH     ProtocolID = 2
	ProtoESP    ProtocolID = 3
	ProtoIPComp ProtocolID = 4
)

var protocolNames = map[ProtocolID]string{ProtoISAKMP: "ISAKMP", ProtoAH: "AH", ProtoESP: "ESP", ProtoIPComp: "IPCOMP"}

func (p ProtocolID) String() string { return name(protocolNames, p) }

// TransformKeyIKE is the one transform ID of phase-1 proposals (RFC 2407
// §4.4.2).
const TransformKeyIKE = 1

// ESP transform IDs (RFC 2407 §4.4.4, RFC 3686, RFC 4106, RFC 4543).
const (
	ESP3DES    = 3
	ESPNull    = 11
	ESPAES     = 12 // AES-CBC, with a Key Length attribute
	ESPAESCTR  = 13
	ESPAESGCM8 = 18
	ESPAESGCM  = 20 // AES-GCM with a 16-byte ICV
	ESPAESGMAC = 23
)

// Phase-1 attribute types (RFC 2409 Appendix A).
const (
	P1Encryption   = 1
	P1Hash         = 2
	P1AuthMethod   = 3
	P1Group        = 4
	P1GroupType    = 5
	P1LifeType     = 11
	P1LifeDuration = 12
	P1PRF          = 13
	P1KeyLength    = 14
	P1FieldSize    = 15
	P1GroupOrder   = 16
)

// Phase-1 encryption algorithms (RFC 2409 Appendix A, RFC 3602 for AES).
const (
	Enc3DES = 5
	EncAES  = 7 // AES-CBC, with a Key Length attribute
)

// Diffie-Hellman groups, of phase 1 and of PFS in phase 2 (RFC 2409, RFC
// 3526, RFC 5903).
const (
	GroupMODP768  = 1
	GroupMODP1024 = 2
	GroupMODP1536 = 5
	GroupMODP2048 = 14
	GroupMODP3072 = 15
	GroupMODP4096 = 16
	GroupMODP6144 = 17
	GroupMODP8192 = 18
	GroupECP256   = 19
	GroupECP384   = 20
	GroupECP521   = 21
)

// Phase-1 hash algorithms (RFC 2409 Appendix A, RFC 4868 for SHA-2).
const (
	HashMD5     = 1
	HashSHA1    = 2
	HashSHA2256 = 4
	HashSHA2384 = 5
	HashSHA2512 = 6
)

// Phase-1 authentication methods (RFC 2409 Appendix A).
const (
	AuthPSK    = 1
	AuthDSS    = 2
	AuthRSASig = 3
)

// Life types, of phase 1 and of the IPsec DOI alike.
const (
	LifeSeconds   = 1
	LifeKilobytes = 2
)

// IPsec DOI attribute types, of phase-2 transforms (RFC 2407 §4.5).
const (
	IPsecLifeType     = 1
	IPsecLifeDuration = 2
	IPsecGroup        = 3
	IPsecEncapMode    = 4
	IPsecAuthAlg      = 5
	IPsecKeyLength    = 6
	IPsecKeyRounds    = 7
	IPsecESN          = 11
)

// Encapsulation modes (RFC 2407 §4.5, RFC 3947 §5).
const (
	EncapTunnel       = 1
	EncapTransport    = 2
	EncapUDPTunnel    = 3
	EncapUDPTransport = 4
)

// IPsec DOI authentication algorithms (RFC 2407 §4.5, RFC 4868).
const (
	AuthAlgHMACMD5     = 1
	AuthAlgHMACSHA1    = 2
	AuthAlgHMACSHA2256 = 5
	AuthAlgHMACSHA2384 = 6
	AuthAlgHMACSHA2512 = 7
)

// IDType is the type of an identification payload (RFC 2407 §4.6.2.1).
type IDType uint8

// The identification types of the IPsec DOI.
const (
	IDIPv4       IDType = 1
	IDFQDN       IDType = 2
	IDUserFQDN   IDType = 3
	IDIPv4Subnet IDType = 4
	IDIPv6       IDType = 5
	IDIPv6Subnet IDType = 6
	IDIPv4Range  IDType = 7
	IDIPv6Range  IDType = 8
	IDDerASN1DN  IDType = 9
	IDDerASN1GN  IDType = 10
	IDKeyID      IDType = 11
)

var idNames = map[IDType]string{
	IDIPv4: "IPV4_ADDR", IDFQDN: "FQDN", IDUserFQDN: "USER_FQDN", IDIPv4Subnet: "IPV4_ADDR_SUBNET",
	IDIPv6: "IPV6_ADDR", IDIPv6Subnet: "IPV6_ADDR_SUBNET", IDIPv4Range: "IPV4_ADDR_RANGE",
	IDIPv6Range: "IPV6_ADDR_RANGE", IDDerASN1DN: "DER_ASN1_DN", IDDerASN1GN: "DER_ASN1_GN", IDKeyID: "KEY_ID",
}

func (t IDType) String() string { return name(idNames, t) }

// NotifyType is the type of a notification (RFC 2408 §3.14.1, RFC 2407
// §4.6.3, RFC 3706).
type NotifyType uint16

// The notification types gif sends or understands.
const (
	NotifyInvalidPayloadType     NotifyType = 1
	NotifyDOINotSupported        NotifyType = 2
	NotifySituationNotSupported  NotifyType = 3
	NotifyInvalidCookie          NotifyType = 4
	NotifyInvalidMajorVersion    NotifyType = 5
	NotifyInvalidExchangeType    NotifyType = 7
	NotifyInvalidFlags           NotifyType = 8
	NotifyInvalidMessageID       NotifyType = 9
	NotifyInvalidProtocolID      NotifyType = 10
	NotifyInvalidSPI             NotifyType = 11
	NotifyInvalidTransformID     NotifyType = 12
	NotifyAttributesNotSupported NotifyType = 13
	NotifyNoProposalChosen       NotifyType = 14
	NotifyBadProposalSyntax      NotifyType = 15
	NotifyPayloadMalformed       NotifyType = 16
	NotifyInvalidKeyInformation  NotifyType = 17
	NotifyInvalidIDInformation   NotifyType = 18
	NotifyInvalidHashInformation NotifyType = 23
	NotifyAuthenticationFailed   NotifyType = 24
	NotifyInvalidSignature       NotifyType = 25
	NotifyUnsupportedExchange    NotifyType = 29
	NotifyResponderLifetime      NotifyType = 24576
	NotifyReplayStatus           NotifyType = 24577
	NotifyInitialContact         NotifyType = 24578
	NotifyRUThere                NotifyType = 36136
	NotifyRUThereAck             NotifyType = 36137
)

var notifyNames = map[NotifyType]string{
	NotifyInvalidPayloadType: "INVALID-PAYLOAD-TYPE", NotifyDOINotSupported: "DOI-NOT-SUPPORTED",
	NotifySituationNotSupported: "SITUATION-NOT-SUPPORTED", NotifyInvalidCookie: "INVALID-COOKIE",
	NotifyInvalidMajorVersion: "INVALID-MAJOR-VERSION", NotifyInvalidExchangeType: "INVALID-EXCHANGE-TYPE",
	NotifyInvalidFlags: "INVALID-FLAGS", NotifyInvalidMessageID: "INVALID-MESSAGE-ID",
	NotifyInvalidProtocolID: "INVALID-PROTOCOL-ID", NotifyInvalidSPI: "INVALID-SPI",
	NotifyInvalidTransformID: "INVALID-TRANSFORM-ID", NotifyAttributesNotSupported: "ATTRIBUTES-NOT-SUPPORTED",
	NotifyNoProposalChosen: "NO-PROPOSAL-CHOSEN", NotifyBadProposalSyntax: "BAD-PROPOSAL-SYNTAX",
	NotifyPayloadMalformed: "PAYLOAD-MALFORMED", NotifyInvalidKeyInformation: "INVALID-KEY-INFORMATION",
	NotifyInvalidIDInformation: "INVALID-ID-INFORMATION", NotifyInvalidHashInformation: "INVALID-HASH-INFORMATION",
	NotifyAuthenticationFailed: "AUTHENTICATION-FAILED", NotifyInvalidSignature: "INVALID-SIGNATURE",
	NotifyUnsupportedExchange: "UNSUPPORTED-EXCHANGE-TYPE", NotifyResponderLifetime: "RESPONDER-LIFETIME",
	NotifyReplayStatus: "REPLAY-STATUS", NotifyInitialContact: "INITIAL-CONTACT",
	NotifyRUThere: "R-U-THERE", NotifyRUThereAck: "R-U-THERE-ACK",
}

func (t NotifyType) String() string { return name(notifyNames, t) }

// name returns v's name, or its number when it has none.
func name[T ~uint8 | ~uint16](names map[T]string, v T) string {
	if s, ok := names[v]; ok {
		return s
	}
	return fmt.Sprintf("%d", v)
}
