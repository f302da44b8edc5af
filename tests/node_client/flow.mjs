// A DPoP (RFC 9449) API client on panva's `dpop` package, Node's fetch and WebCrypto keys,
// against examples/api.rs: `node flow.mjs http://127.0.0.1:PORT`. It prints one line per
// step and exits non-zero at the first surprise. tests/api_dpop_node.rs runs it.
import { generateKeyPair, generateProof, calculateThumbprint } from 'dpop'

const base = process.argv[2]
if (!base) {
  console.error('usage: node flow.mjs <base url>')
  process.exit(2)
}

let nonce // the server's latest DPoP-Nonce (RFC 9449 §8)

function check(condition, what) {
  if (!condition) {
    throw new Error(`unexpected: ${what}`)
  }
}

// One request with a fresh proof, retried once when the server asks for a nonce
// (use_dpop_nonce, RFC 9449 §8 and §9).
async function send(keypair, method, path, { token, body, proof } = {}) {
  for (let attempt = 0; ; attempt++) {
    const dpop = proof ?? (await generateProof(keypair, base + path, method, nonce, token))
    const headers = { DPoP: dpop }
    if (token) headers.Authorization = `DPoP ${token}`
    if (body) headers['Content-Type'] = 'application/json'
    const response = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) })
    nonce = response.headers.get('dpop-nonce') ?? nonce
    const challenge = response.headers.get('www-authenticate') ?? ''
    if (response.status === 401 && challenge.includes('use_dpop_nonce') && attempt === 0 && !proof) {
      console.log(`${method} ${path}: 401 use_dpop_nonce, retrying with the server's nonce`)
      continue
    }
    const text = await response.text()
    return { status: response.status, challenge, text, json: () => JSON.parse(text), proof: dpop }
  }
}

const keypair = await generateKeyPair('ES256')
const jkt = await calculateThumbprint(keypair.publicKey)
console.log(`key: ES256, jkt ${jkt}`)

const login = await send(keypair, 'POST', '/login', { body: { user: 'alice', password: 'alice-demo-password' } })
check(login.status === 200, `login ${login.status} ${login.text}`)
check(login.json().token_type === 'DPoP', `token_type ${login.text}`)
let token = login.json().access_token
console.log(`login: 200, token_type DPoP, expires_in ${login.json().expires_in}`)

const me = await send(keypair, 'GET', '/me', { token })
check(me.status === 200 && me.json().subject === 'alice', `me ${me.status} ${me.text}`)
const handle = me.json().handle
console.log(`me: 200, subject ${me.json().subject}, level ${me.json().level}`)

const replayed = await send(keypair, 'GET', '/me', { token, proof: me.proof })
check(replayed.status === 401 && replayed.challenge.startsWith('DPoP error="invalid_dpop_proof"'), `replayed proof ${replayed.status} ${replayed.challenge}`)
console.log(`replayed proof: 401 ${replayed.challenge}`)

const refreshed = await send(keypair, 'POST', '/refresh', { token })
check(refreshed.status === 200 && refreshed.json().token_type === 'DPoP', `refresh ${refreshed.status} ${refreshed.text}`)
check(refreshed.json().access_token !== token, 'a new token')
token = refreshed.json().access_token
console.log('refresh: 200, a new DPoP token')

const again = await send(keypair, 'GET', '/me', { token })
check(again.status === 200 && again.json().handle === handle, `me after refresh ${again.status} ${again.text}`)
console.log('me after refresh: 200, same session handle')

const logout = await send(keypair, 'POST', '/logout', { token })
check(logout.status === 204, `logout ${logout.status} ${logout.text}`)
console.log('logout: 204')

const after = await send(keypair, 'GET', '/me', { token })
check(after.status === 401 && after.challenge.startsWith('DPoP error="invalid_token"'), `after logout ${after.status} ${after.challenge}`)
check(after.text === '{"error":"invalid_token"}', `after logout body ${after.text}`)
console.log(`me after logout: 401 ${after.challenge}`)
console.log('node dpop client: every step as expected')
