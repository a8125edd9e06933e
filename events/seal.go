package events

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Personal data in events is sealed: encrypted with a data key of its own
// user (AES-256-GCM), so that destroying the key when the user is deleted
// erases the data from a log that is kept forever (crypto-shredding).

// Erased is what a sealed field reads once its user's data key is gone.
const Erased = "[erased]"

// DataKeySize is the size of a user's data key: AES-256.
const DataKeySize = 32

// sealPrefix names the sealing scheme: v1 = AES-256-GCM, 12-byte random
// nonce, additional data "userlife/v1/<user_id>/<field>", base64url without
// padding of nonce||ciphertext||tag.
const sealPrefix = "v1:"

// ErrUnsealable is returned by OpenField for a value that is not a sealed
// field of this user (wrong key, tampered, or not sealed at all).
var ErrUnsealable = errors.New("sealed field cannot be opened")

// NewDataKey returns a fresh random data key.
func NewDataKey() ([]byte, error) {
	k := make([]byte, DataKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	return k, nil
}

// SealField encrypts a personal field of userID's events. The ciphertext is
// bound to the user and the field name: it cannot be moved to another user
// or field without OpenField failing.
func SealField(key []byte, userID, field, plaintext string) (string, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal %s: %w", field, err)
	}
	out := aead.Seal(nonce, nonce, []byte(plaintext), sealAD(userID, field))
	return sealPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// OpenField decrypts what SealField sealed.
func OpenField(key []byte, userID, field, sealed string) (string, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	b64, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return "", fmt.Errorf("%w: %s of user %s: unknown scheme", ErrUnsealable, field, userID)
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return "", fmt.Errorf("%w: %s of user %s: malformed", ErrUnsealable, field, userID)
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, raw[:n], raw[n:], sealAD(userID, field))
	if err != nil {
		return "", fmt.Errorf("%w: %s of user %s: %v", ErrUnsealable, field, userID, err)
	}
	return string(plain), nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != DataKeySize {
		return nil, fmt.Errorf("data key has %d bytes, want %d", len(key), DataKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func sealAD(userID, field string) []byte { return []byte("userlife/v1/" + userID + "/" + field) }

// Sealed reports whether e carries sealed personal data.
func (e Event) Sealed() bool {
	d, ok := e.Data.(UserRegistered)
	return ok && d.EmailSealed != ""
}

// Seal returns e with its personal fields sealed with key; an event
// without personal data, or already sealed, is returned as is.
func (e Event) Seal(key []byte) (Event, error) {
	d, ok := e.Data.(UserRegistered)
	if !ok || d.EmailSealed != "" {
		return e, nil
	}
	s, err := SealField(key, e.UserID, "email", d.Email)
	if err != nil {
		return e, err
	}
	e.Data = UserRegistered{EmailSealed: s}
	return e, nil
}

// Open returns e with its sealed fields readable: decrypted with key, or
// Erased when key is nil (the user's data key was destroyed). The sealed
// form is kept, so encoding the event again writes only the sealed form.
func (e Event) Open(key []byte) (Event, error) {
	d, ok := e.Data.(UserRegistered)
	if !ok || d.EmailSealed == "" {
		return e, nil
	}
	if key == nil {
		d.Email = Erased
		e.Data = d
		return e, nil
	}
	email, err := OpenField(key, e.UserID, "email", d.EmailSealed)
	if err != nil {
		return e, err
	}
	d.Email = email
	e.Data = d
	return e, nil
}
