/*!
 * ukeygate phone web app. Plain ES2017, no build step, no third-party
 * origin. It talks only the device-signed phone API of the gateway that
 * served it:
 *
 *   X-Device, X-Timestamp, X-Nonce, X-Signature over
 *   METHOD \n PATH \n TIMESTAMP \n NONCE \n hex(SHA-256(body))
 *
 * signed ECDSA P-256 / SHA-256 by a non-extractable WebCrypto key kept in
 * IndexedDB (WebCrypto returns r||s; the gateway wants DER).
 *
 * The PIN is typed on the page's own keypad (no <input>, so no browser
 * remembers it), kept in a local variable only while it is typed, and
 * leaves the page only inside the one request that needs it.
 *
 * Test hooks: body[data-view] names the screen; elements carry data-t
 * names; body[data-busy] is set while a request runs.
 */
(function () {
  'use strict';

  // ---------------------------------------------------------------------
  // Text (zh, en)
  // ---------------------------------------------------------------------
  var TEXT = {
    zh: {
      appName: 'ukeygate 手机盾',
      tagline: '用手机代替 U 盾：扫码登录、签名、开标',
      loading: '正在加载…',
      langSwitch: 'English',
      langSwitchLabel: 'Switch to English',
      back: '返回',
      close: '关闭',
      cancel: '取消',
      next: '下一步',
      done: '完成',
      retry: '重试',
      home: '首页',
      tabHome: '首页', tabCerts: '证书', tabScan: '扫一扫', tabHistory: '记录', tabMe: '我的',
      tabsLabel: '主菜单',
      // unsupported
      unsupportedTitle: '此浏览器无法使用手机盾',
      unsupportedInsecure: '手机盾需要安全连接（HTTPS）。请通过 https:// 地址打开此页面，或联系网站管理员。',
      unsupportedApis: '此浏览器缺少所需功能（WebCrypto、IndexedDB）。请用系统浏览器（Safari、Chrome）或微信打开。',
      // welcome
      welcomeTitle: '欢迎使用手机盾',
      welcomeLead: '激活后，这部手机就是您的数字证书钥匙，无需 U 盾、无需安装应用。',
      feat1: '扫码登录', feat1d: '扫描网站上的二维码，输入 PIN 即可登录。',
      feat2: '签名与开标', feat2d: '投标文件签名、加密标书解密，一步完成。',
      feat3: '私钥不出服务器', feat3d: '没有您的 PIN，任何人都无法使用您的证书。',
      activate: '激活本机', activateShort: '激活本机',
      scanActivation: '扫描激活二维码',
      scanShort: '扫码激活',
      // enroll
      enrollTitle: '激活本机',
      enrollCodeLead: '请输入证书服务机构提供的激活码（20 位，不区分大小写）。',
      codeLabel: '激活码',
      codeHint: '例如 ABCDE-FGHJK-MNPQR-STVWX',
      codeBad: '激活码应为 20 位字母和数字，请核对。',
      nameTitle: '为这部手机命名',
      nameLead: '证书服务机构会看到这个名称，便于您日后管理设备。',
      nameLabel: '设备名称',
      nameBad: '请输入设备名称（最多 64 个字符）。',
      pinSetTitle: '设置 PIN',
      pinSetLead: '每次确认登录、签名或解密都需要输入 PIN。',
      pinAgainTitle: '再次输入 PIN',
      pinAgainLead: '请再输入一次刚才设置的 PIN。',
      pinMismatch: '两次输入的 PIN 不一致，请重新设置。',
      ruleLen: '6–12 位数字', ruleSame: '不能全部相同', ruleRun: '不能是连续数字',
      pinReenrollNote: '如果您曾在其他手机上激活过，请输入您当前的 PIN。',
      enrolling: '正在生成密钥并激活…',
      enrolledTitle: '激活成功',
      enrolledLead: '{name}，这部手机已成为您的手机盾。',
      alreadyEnrolled: '这部手机已为 {name} 激活。如需为其他人激活，请使用另一部手机或另一个浏览器。',
      // credentials
      offerTitle: '申请数字证书',
      offerLead: '需要签名证书才能登录和签名，需要加密证书才能开标解密。',
      offerNone: '暂时没有可申请证书的机构，请稍后在“证书”页申请。',
      purpose_sign: '签名证书', purpose_encrypt: '加密证书',
      purposeSignDesc: '用于登录和签名', purposeEncryptDesc: '用于解密（开标）',
      requestCerts: '申请证书',
      later: '稍后再说',
      startUsing: '开始使用',
      certsRequested: '证书已申请',
      // A certificate request whose answer was lost (network): retried
      // as it was (a two-party one with the kept share).
      reqLostTitle: '没有收到网关的答复',
      reqLostLead: '网络中断，您的证书申请可能已经送达网关，也可能没有。什么都没有丢失：点“重试”，再输入一次 PIN 即可。网关已经办好的，会直接给出那张证书，不会重复申请。',
      reqLostLeadCosign: '网络中断，您的协同证书申请可能已经送达网关，也可能没有。什么都没有丢失：本机已保存好这次新生成的那一份私钥。点“重试”，再输入一次 PIN，会原样再发一次；网关已经办好的，会直接给出那张证书，不会重复申请。',
      requestFor: '申请 {issuer} 证书',
      chooseIssuer: '证书机构',
      choosePurpose: '证书用途',
      chooseAlg: '算法',
      requestNew: '申请新证书',
      myCerts: '我的证书',
      certsEmpty: '您还没有证书。',
      state_active: '有效', state_pending: '待签发', state_revoked: '已吊销', state_expired: '已过期',
      validity: '有效期', serial: '序列号', issuer: '颁发机构', algorithm: '算法', purpose: '用途', state: '状态',
      validTo: '{from} 至 {to}',
      pendingNote: '已提交证书请求，等待机构签发。',
      // home
      hello: '您好，{name}',
      homeSub: '本机：{device}',
      scanTitle: '扫一扫',
      scanSub: '扫描网页上的二维码',
      tileCerts: '我的证书', tileCertsSub: '{n} 张有效证书',
      tileHistory: '使用记录', tileHistorySub: '登录、签名、解密',
      tilePin: '修改 PIN', tilePinSub: '定期更换更安全',
      tileDevice: '本机与挂失', tileDeviceSub: '手机丢失怎么办',
      // scan (camera)
      cameraTitle: '扫一扫',
      cameraHint: '将二维码放入框内，即可自动扫描',
      cameraStarting: '正在打开相机…',
      cameraDenied: '无法使用相机。请在浏览器设置中允许本网站使用相机，或直接用手机相机、微信“扫一扫”扫描电脑上的二维码。',
      cameraNone: '未找到可用的相机。请直接用手机相机或微信“扫一扫”扫描电脑上的二维码。',
      notOurCode: '这不是手机盾的二维码。',
      otherGateway: '这个二维码属于另一个服务（{origin}），本机未在该服务激活。',
      // session
      reading: '正在读取请求…',
      kind_login: '登录请求', kind_sign: '签名请求', kind_decrypt: '解密请求', kind_seal: '盖章请求',
      kindLead_login: '申请用您的证书登录', kindLead_sign: '申请用您的证书签名', kindLead_decrypt: '申请用您的证书解密', kindLead_seal: '申请加盖您的电子印章',
      from: '网站',
      displayLabel: '网站自述（网关未核实）',
      displayNote: '以下文字由网站填写，网关无法核实。',
      showAll: '展开全部', showLess: '收起',
      computer: '电脑',
      computerValue: '{browser} · IP {ip}',
      documents: '待签名文件',
      digest: 'SM3 摘要',
      givenDigest: '摘要（由网站提供）',
      bytes: '{n} 字节',
      ciphertext: '待解密数据',
      ciphertextValue: '{format} · {size}',
      pickCode: '请选择电脑屏幕上显示的匹配码',
      pickCodeLabel: '匹配码',
      codeOption: '匹配码 {code}',
      useCred: '使用证书',
      chooseCred: '选择证书',
      noCred: '您没有适合此请求的有效证书。请先在“证书”页申请。',
      confirm: '确认',
      reject: '拒绝',
      timeLeft: '剩余 {t}',
      timeLeftLabel: '剩余时间 {t}',
      pinTitle: '输入 PIN',
      pinFor_login: '确认登录 {app}', pinFor_sign: '确认签名（{app}）', pinFor_decrypt: '确认解密（{app}）', pinFor_seal: '确认盖章（{app}）',
      pinForCert: '申请证书需要验证 PIN',
      pinForEnrollCert: '请输入刚刚设置的 PIN',
      pinOld: '输入当前 PIN', pinOldLead: '修改 PIN 前请先验证当前 PIN。',
      pinNew: '设置新 PIN', pinNewLead: '新的 PIN 将用于所有证书。',
      pinNewAgain: '再次输入新 PIN',
      pinChanged: 'PIN 已修改',
      pinChangedLead: '下次确认时请使用新的 PIN。',
      pinUnsureTitle: '不确定 PIN 是否已修改',
      pinUnsureLead: '网络中断，无法确认网关是否已修改 PIN。网络恢复后点“核对”：应用会查看使用记录，告诉您现在该用哪个 PIN。核对之前请不要再次修改 PIN。',
      pinCheck: '核对',
      pinNotChanged: 'PIN 未修改',
      pinNotChangedLead: '网关没有收到这次修改，请继续使用原来的 PIN。',
      pinDots: '已输入 {n} 位',
      pinOk: '确定',
      pinDelete: '删除',
      pinCancel: '取消',
      pinForgot: '忘记 PIN？',
      pinRecoveryTitle: '不记得 PIN 了？',
      pinRecovery: 'PIN 无法找回，证书服务机构也不能。请联系证书服务机构重置：核实您的身份后，他们会给您一个新的激活码。用它重新激活本机并设置新 PIN。签名证书会重新签发；加密给您的文件，只有证书服务机构托管了您的加密密钥时才能继续打开。',
      working: '正在处理…',
      wrongPin: 'PIN 错误，还可以再试 {n} 次。',
      wrongPinLast: 'PIN 错误，再错一次将被锁定。',
      doneTitle_login: '已登录', doneTitle_sign: '已签名', doneTitle_decrypt: '已解密', doneTitle_seal: '已盖章',
      doneLead: '请回到电脑继续操作（{app}）。',
      rejectedTitle: '已拒绝',
      rejectedLead: '电脑上的请求已被拒绝，未使用您的证书。',
      expiredTitle: '请求已过期',
      expiredLead: '二维码的有效时间已过。请在电脑上刷新二维码后重新扫描。',
      // refusals (one sentence each)
      err_session_expired: '这个二维码已过期。请在电脑上刷新二维码后重新扫描。',
      err_session_not_found: '这个二维码无效或已失效。请在电脑上刷新二维码后重新扫描。',
      err_already_scanned: '这个二维码已被另一部手机扫描。请在电脑上刷新二维码后重新扫描。',
      err_nonce_used: '这个二维码已经被扫描过。请在电脑上刷新二维码后重新扫描。',
      err_invalid_payload: '这不是本服务的二维码。',
      err_wrong_code: '匹配码不正确，本次请求已取消，未使用您的证书。请在电脑上重新发起。',
      err_wrong_device: '这个请求已在另一部手机上扫描。',
      err_wrong_user: '这个请求指定了其他用户，不能用您的证书确认。',
      err_session_closed: '这个请求已经结束（已完成、已取消或已过期）。',
      err_confirm_in_progress: '这个请求正在确认中（可能在本机的另一个页面）。请看电脑上的结果，不要重复操作。',
      title_confirm_in_progress: '正在确认中',
      unsureTitle: '不确定是否已完成',
      unsureLead: '网络中断，无法确认网关是否收到了您的确认。请看电脑上的页面：显示已完成就是已办妥，不要重复操作；否则请在电脑上刷新二维码后重新扫描。',
      unsureReject: '网络中断，无法确认拒绝是否已送达。电脑上的请求若仍在等待，到期后会自动失效，不会使用您的证书。',
      unsureHistory: '查看使用记录',
      err_app_disabled: '该网站的扫码服务已被停用。',
      err_pin_locked: 'PIN 已被锁定，请于 {time} 后再试。',
      err_pin_locked_soon: 'PIN 已被锁定，请稍后再试。',
      err_device_revoked: '这部手机已被停用。如有疑问，请联系证书服务机构。',
      err_unknown_device: '服务器不认识这部手机（可能已被移除）。请重新激活。',
      err_activation_invalid: '激活码无效，请核对后重新输入。',
      err_activation_used: '这个激活码已经使用过。请联系证书服务机构获取新的激活码。',
      err_activation_expired: '激活码已过期。请联系证书服务机构获取新的激活码。',
      err_weak_pin: 'PIN 太简单：需为 6–12 位数字，不能全部相同，也不能是连续数字。',
      err_wrong_pin_enroll: '您已在其他手机上激活过，请输入当前 PIN（还可以再试 {n} 次）。',
      err_credential_exists: '您已经有这家机构的同类证书。',
      err_alg_not_allowed: '该机构不签发这种算法的证书。',
      err_purpose_not_allowed: '该机构不签发这种用途的证书。',
      err_credential_limit: '证书数量已达上限。',
      err_credential_mismatch: '所选证书不适合这个请求。',
      err_credential_not_active: '所选证书当前不可用。',
      err_delegation_revoked: '这项授权已被撤销。',
      err_delegation_expired: '这项授权已过期。',
      err_delegation_not_active: '这项授权尚未生效（需经办人接受、单位批准）。',
      err_delegation_scope: '这项授权不包括此类请求或此平台。',
      err_delegation_state: '这项授权当前不能执行此步骤。',
      err_delegation_not_found: '找不到这项授权。',
      forOrg: '代表 {org}', byStaff: '经办人 {user}', pinOwnFor: '请输入您本人的 PIN（代表 {org}）',
      delegations: '单位授权', delegationsLead: '单位证书授权给经办人使用：经办人用本人 PIN 接受，单位用单位 PIN 批准后生效。',
      dlgToMe: '{org} 授权给您', dlgFromOrg: '授权给 {user}', dlgKinds: '用途', dlgAllKinds: '全部', dlgKind_login: '登录', dlgKind_sign: '签名', dlgKind_decrypt: '解密', dlgKind_seal: '盖章', dlgKindSep: '、', dlgUntil: '有效期至 {date}',
      dlgSupersededOne: '也能解密加密给已续期旧证书的数据', dlgSupersededN: '也能解密加密给 {n} 张已续期旧证书的数据',
      dlgAccept: '接受授权', dlgApprove: '批准授权', dlgAcceptLead: '用您本人的 PIN 接受 {org} 的授权', dlgApproveLead: '用单位 PIN 批准 {user} 使用单位证书',
      dlgState_pending_acceptance: '待接受', dlgState_pending_approval: '待单位批准', dlgState_active: '生效中', dlgState_revoked: '已撤销', dlgState_expired: '已过期',
      err_stale_timestamp: '手机时间不准确，请校准时间后重试。',
      err_network: '网络连接失败，请检查网络后重试。',
      err_operation_failed: '操作未能完成，未返回结果。请在电脑上重新发起。',
      err_generic: '操作未能完成（{code}），请稍后再试。',
      refusedTitle: '无法完成',
      title_session_expired: '二维码已过期', title_pin_locked: 'PIN 已锁定', title_wrong_code: '匹配码不正确',
      title_already_scanned: '二维码已使用', title_nonce_used: '二维码已使用', title_session_closed: '请求已结束',
      title_session_not_found: '二维码无效', title_device_revoked: '本机已停用', title_network: '网络不可用',
      notEnrolledTitle: '这部手机还没有激活',
      notEnrolledLead: '要确认电脑上的请求，请先用证书服务机构提供的激活码激活这部手机，只需一次。',
      notEnrolledAfter: '激活后将继续处理这个二维码。',
      // history
      history: '使用记录',
      historyEmpty: '还没有使用记录。',
      act_login: '登录', act_sign: '签名', act_decrypt: '解密', act_seal: '盖章',
      'act_delegation.accept': '接受单位授权', 'act_delegation.approve': '批准单位授权', 'act_credential.create': '申请证书', 'act_pin.change': '修改 PIN', 'act_device.enroll': '激活设备',
      outcome_ok: '成功', outcome_failed: '未完成',
      reason_wrong_pin: 'PIN 错误', reason_pin_locked: 'PIN 已锁定', reason_wrong_code: '匹配码错误',
      today: '今天', yesterday: '昨天',
      // me
      me: '我的',
      thisDevice: '本机',
      deviceName: '设备名称',
      deviceId: '设备编号',
      deviceKey: '设备密钥',
      deviceKeyValue: 'ECDSA P-256 · 不可导出',
      enrolledAt: '激活时间',
      changePin: '修改 PIN',
      // hand-drawn signature
      signRow: '手写签名', signTitle: '手写签名',
      signLead: '请用手指在下面的框内写下您的签名。保存后，它会成为您的个人签名章，盖章时可以选用。',
      signPadLabel: '签名区：用手指书写',
      signUndo: '撤销一笔', signClear: '清除', signSave: '保存签名',
      signEmpty: '请先在框内签名。',
      signSavedTitle: '签名已保存',
      signSavedLead: '您的手写签名已成为个人签名章（{id}），盖章时可以选用。',
      err_drawn_seal_disabled: '您的证书服务机构不允许使用手写签名。如需个人签名章，请联系证书服务机构登记。',
      title_drawn_seal_disabled: '不能使用手写签名',
      err_seal_limit: '您已有 32 个有效的印章和签名，已达上限。请联系证书服务机构撤销不再使用的印章后再试。',
      title_seal_limit: '印章数量已达上限',
      err_bad_seal_image: '这个签名无法使用（太小、太细长或是空白），请重新书写。',
      err_no_signing_credential: '手写签名要绑定到您的签名证书上，但您现在没有有效的签名证书。请先在“证书”页申请签名证书（原证书已过期或被吊销的，请重新申请），签发后再保存签名。',
      title_no_signing_credential: '还没有可用的签名证书',
      signToCerts: '前往证书页',
      // No active signing certificate: said before the pad, by what the
      // certificates list shows.
      signNoCred_none: '手写签名要绑定到您的签名证书上，但您还没有签名证书。请先在“证书”页申请签名证书，签发后再来写签名。',
      signNoCred_pending: '手写签名要绑定到您的签名证书上。您申请的签名证书还在等待签发，签发后再来写签名；签发进度可在“证书”页查看。',
      signNoCred_expired: '手写签名要绑定到您的签名证书上，但您的签名证书已过期。请在“证书”页重新申请签名证书，签发后再来写签名。',
      signNoCred_revoked: '手写签名要绑定到您的签名证书上，但您的签名证书已被吊销。请在“证书”页重新申请签名证书，签发后再来写签名。',
      title_sign_pending: '签名证书还在签发中',
      signDisabled: '您的证书服务机构没有开通手写签名，所以这里不能写签名。如需在文件上使用个人签名章，请联系证书服务机构为您登记。',
      lost: '手机丢失怎么办？',
      lostTitle: '手机丢失或更换',
      lostP1: '请立即联系您的证书服务机构，告知下面的设备编号，他们会停用这部手机。',
      lostP2: '您的证书私钥不保存在手机上：没有您的 PIN，捡到手机的人也无法使用您的证书。',
      lostP3: '换新手机时，向机构索取新的激活码，在新手机上用当前 PIN 激活即可继续使用原有证书。',
      userId: '用户编号',
      footer: '由 ukeygate 提供安全保护'
    },
    en: {
      appName: 'ukeygate Mobile Key',
      tagline: 'Your phone instead of a USB key: scan to log in, sign and open bids',
      loading: 'Loading…',
      langSwitch: '中文',
      langSwitchLabel: '切换到中文',
      back: 'Back',
      close: 'Close',
      cancel: 'Cancel',
      next: 'Next',
      done: 'Done',
      retry: 'Try again',
      home: 'Home',
      tabHome: 'Home', tabCerts: 'Certificates', tabScan: 'Scan', tabHistory: 'History', tabMe: 'Me',
      tabsLabel: 'Main menu',
      unsupportedTitle: 'This browser cannot run the Mobile Key',
      unsupportedInsecure: 'The Mobile Key needs a secure connection (HTTPS). Open this page at its https:// address, or ask the site’s administrator.',
      unsupportedApis: 'This browser lacks WebCrypto or IndexedDB. Open the link in the phone’s own browser (Safari, Chrome) or in WeChat.',
      welcomeTitle: 'Welcome to the Mobile Key',
      welcomeLead: 'Once activated, this phone is the key to your digital certificates: no USB key, nothing to install.',
      feat1: 'Scan to log in', feat1d: 'Scan the QR code on a website and enter your PIN.',
      feat2: 'Sign and open bids', feat2d: 'Sign tender documents and decrypt sealed bids in one step.',
      feat3: 'Your key stays safe', feat3d: 'Without your PIN nobody can use your certificates.',
      activate: 'Activate this phone', activateShort: 'Activate',
      scanActivation: 'Scan an activation QR code',
      scanShort: 'Scan',
      enrollTitle: 'Activate this phone',
      enrollCodeLead: 'Enter the activation code your certificate provider gave you (20 characters, any case).',
      codeLabel: 'Activation code',
      codeHint: 'For example ABCDE-FGHJK-MNPQR-STVWX',
      codeBad: 'An activation code has 20 letters and digits. Please check it.',
      nameTitle: 'Name this phone',
      nameLead: 'Your certificate provider sees this name; it helps you manage your devices.',
      nameLabel: 'Device name',
      nameBad: 'Enter a device name (at most 64 characters).',
      pinSetTitle: 'Choose a PIN',
      pinSetLead: 'You enter it every time you confirm a login, a signature or a decryption.',
      pinAgainTitle: 'Enter the PIN again',
      pinAgainLead: 'Type the PIN you just chose once more.',
      pinMismatch: 'The two PINs differ. Please choose your PIN again.',
      ruleLen: '6–12 digits', ruleSame: 'not all the same', ruleRun: 'not a run like 123456',
      pinReenrollNote: 'If you activated another phone before, enter your current PIN.',
      enrolling: 'Creating your key and activating…',
      enrolledTitle: 'Activated',
      enrolledLead: '{name}, this phone is now your Mobile Key.',
      alreadyEnrolled: 'This phone is already activated for {name}. To activate someone else, use another phone or browser.',
      offerTitle: 'Request certificates',
      offerLead: 'A signing certificate lets you log in and sign; an encryption certificate lets you open encrypted bids.',
      offerNone: 'No certificate provider is available yet. You can request certificates later on the Certificates page.',
      purpose_sign: 'Signing certificate', purpose_encrypt: 'Encryption certificate',
      purposeSignDesc: 'To log in and sign', purposeEncryptDesc: 'To decrypt (open bids)',
      requestCerts: 'Request certificates',
      later: 'Not now',
      startUsing: 'Start',
      certsRequested: 'Certificates requested',
      reqLostTitle: 'No answer from the gateway',
      reqLostLead: 'The connection dropped, so your certificate request may or may not have reached the gateway. Nothing is lost: tap Try again and enter your PIN once more. If the gateway already made the certificate, you get that one; nothing is requested twice.',
      reqLostLeadCosign: 'The connection dropped, so your two-party certificate request may or may not have reached the gateway. Nothing is lost: this phone kept its share of the new key. Tap Try again and enter your PIN once more to send the same request again. If the gateway already made the certificate, you get that one; nothing is requested twice.',
      requestFor: 'Request a certificate from {issuer}',
      chooseIssuer: 'Certificate provider',
      choosePurpose: 'Purpose',
      chooseAlg: 'Algorithm',
      requestNew: 'Request a certificate',
      myCerts: 'My certificates',
      certsEmpty: 'You have no certificates yet.',
      state_active: 'Valid', state_pending: 'Pending', state_revoked: 'Revoked', state_expired: 'Expired',
      validity: 'Valid', serial: 'Serial', issuer: 'Issuer', algorithm: 'Algorithm', purpose: 'Purpose', state: 'State',
      validTo: '{from} to {to}',
      pendingNote: 'Request sent; waiting for the provider to issue it.',
      hello: 'Hello, {name}',
      homeSub: 'This phone: {device}',
      scanTitle: 'Scan',
      scanSub: 'Scan the QR code on a web page',
      tileCerts: 'My certificates', tileCertsSub: '{n} valid',
      tileHistory: 'History', tileHistorySub: 'Logins, signatures, decryptions',
      tilePin: 'Change PIN', tilePinSub: 'Change it now and then',
      tileDevice: 'This phone', tileDeviceSub: 'If you lose it',
      cameraTitle: 'Scan',
      cameraHint: 'Hold the QR code inside the frame',
      cameraStarting: 'Starting the camera…',
      cameraDenied: 'The camera is not available. Allow this site to use the camera in the browser’s settings, or scan the QR code with the phone’s camera app or WeChat.',
      cameraNone: 'No camera found. Scan the QR code with the phone’s camera app or WeChat instead.',
      notOurCode: 'This is not a Mobile Key QR code.',
      otherGateway: 'This QR code belongs to another service ({origin}), where this phone is not activated.',
      reading: 'Reading the request…',
      kind_login: 'Login request', kind_sign: 'Signature request', kind_decrypt: 'Decryption request', kind_seal: 'Seal request',
      kindLead_login: 'asks to log you in with your certificate', kindLead_sign: 'asks you to sign with your certificate', kindLead_decrypt: 'asks to decrypt with your certificate', kindLead_seal: 'asks to apply your electronic seal',
      from: 'Website',
      displayLabel: 'In the website’s own words (not checked)',
      displayNote: 'The website wrote the text below; the gateway cannot check it.',
      showAll: 'Show all', showLess: 'Show less',
      computer: 'Computer',
      computerValue: '{browser} · IP {ip}',
      documents: 'Documents to sign',
      digest: 'SM3 digest',
      givenDigest: 'Digest (given by the website)',
      bytes: '{n} bytes',
      ciphertext: 'Data to decrypt',
      ciphertextValue: '{format} · {size}',
      pickCode: 'Pick the code shown on the computer screen',
      pickCodeLabel: 'Matching code',
      codeOption: 'Code {code}',
      useCred: 'Certificate',
      chooseCred: 'Choose a certificate',
      noCred: 'You have no valid certificate for this request. Request one on the Certificates page first.',
      confirm: 'Confirm',
      reject: 'Reject',
      timeLeft: '{t} left',
      timeLeftLabel: 'Time left {t}',
      pinTitle: 'Enter your PIN',
      pinFor_login: 'Log in to {app}', pinFor_sign: 'Sign for {app}', pinFor_decrypt: 'Decrypt for {app}', pinFor_seal: 'Seal for {app}',
      pinForCert: 'Requesting a certificate needs your PIN',
      pinForEnrollCert: 'Enter the PIN you just chose',
      pinOld: 'Enter your current PIN', pinOldLead: 'Confirm your current PIN first.',
      pinNew: 'Choose a new PIN', pinNewLead: 'The new PIN protects all your certificates.',
      pinNewAgain: 'Enter the new PIN again',
      pinChanged: 'PIN changed',
      pinChangedLead: 'Use your new PIN from now on.',
      pinUnsureTitle: 'Not sure the PIN changed',
      pinUnsureLead: 'The connection dropped, so the phone cannot tell whether the gateway changed your PIN. When you are online again, tap Check: the app looks at your history and tells you which PIN to use. Do not change the PIN again before that.',
      pinCheck: 'Check',
      pinNotChanged: 'PIN not changed',
      pinNotChangedLead: 'The gateway did not get the change. Keep using your old PIN.',
      pinDots: '{n} digits entered',
      pinOk: 'OK',
      pinDelete: 'Delete',
      pinCancel: 'Cancel',
      pinForgot: 'Forgot your PIN?',
      pinRecoveryTitle: 'No longer know your PIN?',
      pinRecovery: 'Nobody can read your PIN back, not even your certificate provider. Ask them to reset it: they check who you are again and give you a new activation code. Activate this phone with it and choose a new PIN. Your signing certificates are issued anew; documents encrypted to you stay readable only if your provider keeps a copy of your encryption key.',
      working: 'Working…',
      wrongPin: 'Wrong PIN. {n} tries left.',
      wrongPinLast: 'Wrong PIN. One more wrong try locks it.',
      doneTitle_login: 'Logged in', doneTitle_sign: 'Signed', doneTitle_decrypt: 'Decrypted', doneTitle_seal: 'Sealed',
      doneLead: 'Continue on your computer ({app}).',
      rejectedTitle: 'Rejected',
      rejectedLead: 'The request on the computer was rejected; your certificate was not used.',
      expiredTitle: 'The request has expired',
      expiredLead: 'The QR code is no longer valid. Refresh it on the computer and scan again.',
      err_session_expired: 'This QR code has expired. Refresh it on the computer and scan again.',
      err_session_not_found: 'This QR code is not valid any more. Refresh it on the computer and scan again.',
      err_already_scanned: 'This QR code has already been scanned by another phone. Refresh it on the computer and scan again.',
      err_nonce_used: 'This QR code has already been scanned. Refresh it on the computer and scan again.',
      err_invalid_payload: 'This is not a QR code of this service.',
      err_wrong_code: 'That was not the matching code: the request was cancelled and your certificate was not used. Start again on the computer.',
      err_wrong_device: 'This request was scanned by another phone.',
      err_wrong_user: 'This request is for another user; your certificate cannot confirm it.',
      err_session_closed: 'This request has already ended (done, cancelled or expired).',
      err_confirm_in_progress: 'This request is already being confirmed (perhaps in another tab on this phone). Check the result on the computer; do not repeat it.',
      title_confirm_in_progress: 'Already being confirmed',
      unsureTitle: 'Not sure it went through',
      unsureLead: 'The connection dropped, so the phone cannot tell whether the gateway got your confirmation. Look at the computer: if it shows done, it is done; do not repeat it. If not, refresh the QR code there and scan again.',
      unsureReject: 'The connection dropped, so the phone cannot tell whether your refusal arrived. If the request on the computer still waits, it lapses when its time runs out, without your certificate.',
      unsureHistory: 'See my history',
      err_app_disabled: 'This website’s QR service has been turned off.',
      err_pin_locked: 'Your PIN is locked until {time}. Try again then.',
      err_pin_locked_soon: 'Your PIN is locked. Try again later.',
      err_device_revoked: 'This phone has been disabled. Contact your certificate provider if this is unexpected.',
      err_unknown_device: 'The server does not know this phone any more. Please activate it again.',
      err_activation_invalid: 'This activation code is not valid. Please check it.',
      err_activation_used: 'This activation code has been used already. Ask your certificate provider for a new one.',
      err_activation_expired: 'This activation code has expired. Ask your certificate provider for a new one.',
      err_weak_pin: 'That PIN is too easy: use 6 to 12 digits, not all the same and not a run.',
      err_wrong_pin_enroll: 'You activated another phone before: enter your current PIN ({n} tries left).',
      err_credential_exists: 'You already hold this kind of certificate from this provider.',
      err_alg_not_allowed: 'This provider does not issue certificates for that algorithm.',
      err_purpose_not_allowed: 'This provider does not issue certificates for that purpose.',
      err_credential_limit: 'You hold the largest number of certificates allowed.',
      err_credential_mismatch: 'The chosen certificate does not fit this request.',
      err_credential_not_active: 'The chosen certificate is not usable now.',
      err_delegation_revoked: 'This delegation has been revoked.',
      err_delegation_expired: 'This delegation has expired.',
      err_delegation_not_active: 'This delegation is not in force yet (the staff member accepts it, then the organisation approves it).',
      err_delegation_scope: 'This delegation does not cover this kind of request or this site.',
      err_delegation_state: 'This step cannot be taken on this delegation now.',
      err_delegation_not_found: 'This delegation was not found.',
      forOrg: 'for {org}', byStaff: 'by {user}', pinOwnFor: 'Enter your own PIN (acting for {org})',
      delegations: 'Delegations', delegationsLead: 'An organisation\'s certificate used by its staff: the staff member accepts with their own PIN, then the organisation approves with its PIN.',
      dlgToMe: 'From {org} to you', dlgFromOrg: 'To {user}', dlgKinds: 'For', dlgAllKinds: 'everything', dlgKind_login: 'login', dlgKind_sign: 'signing', dlgKind_decrypt: 'decryption', dlgKind_seal: 'sealing', dlgKindSep: ', ', dlgUntil: 'Until {date}',
      dlgSupersededOne: 'Also opens data sealed to the renewed certificate', dlgSupersededN: 'Also opens data sealed to {n} renewed certificates',
      dlgAccept: 'Accept', dlgApprove: 'Approve', dlgAcceptLead: 'Accept {org}\'s delegation with your own PIN', dlgApproveLead: 'Approve {user} using the organisation\'s certificate',
      dlgState_pending_acceptance: 'To accept', dlgState_pending_approval: 'Awaiting approval', dlgState_active: 'In force', dlgState_revoked: 'Revoked', dlgState_expired: 'Expired',
      err_stale_timestamp: 'The phone’s clock is wrong. Set the time and try again.',
      err_network: 'No connection. Check your network and try again.',
      err_operation_failed: 'The operation could not be completed. Start again on the computer.',
      err_generic: 'That did not work ({code}). Please try again later.',
      refusedTitle: 'Could not continue',
      title_session_expired: 'QR code expired', title_pin_locked: 'PIN locked', title_wrong_code: 'Wrong matching code',
      title_already_scanned: 'QR code already used', title_nonce_used: 'QR code already used', title_session_closed: 'Request ended',
      title_session_not_found: 'QR code not valid', title_device_revoked: 'Phone disabled', title_network: 'No connection',
      notEnrolledTitle: 'This phone is not activated yet',
      notEnrolledLead: 'To confirm requests from your computer, activate this phone once with the activation code from your certificate provider.',
      notEnrolledAfter: 'After activation this QR code is handled right away.',
      history: 'History',
      historyEmpty: 'Nothing here yet.',
      act_login: 'Login', act_sign: 'Signature', act_decrypt: 'Decryption', act_seal: 'Seal',
      'act_delegation.accept': 'Delegation accepted', 'act_delegation.approve': 'Delegation approved', 'act_credential.create': 'Certificate request', 'act_pin.change': 'PIN change', 'act_device.enroll': 'Phone activated',
      outcome_ok: 'Done', outcome_failed: 'Not done',
      reason_wrong_pin: 'wrong PIN', reason_pin_locked: 'PIN locked', reason_wrong_code: 'wrong code',
      today: 'Today', yesterday: 'Yesterday',
      me: 'Me',
      thisDevice: 'This phone',
      deviceName: 'Name',
      deviceId: 'Device ID',
      deviceKey: 'Device key',
      deviceKeyValue: 'ECDSA P-256 · not exportable',
      enrolledAt: 'Activated',
      changePin: 'Change PIN',
      // hand-drawn signature
      signRow: 'My signature', signTitle: 'Hand-drawn signature',
      signLead: 'Write your signature with your finger in the box below. Once saved it becomes your personal signature seal, which you can choose when you seal a document.',
      signPadLabel: 'Signature pad: write with your finger',
      signUndo: 'Undo stroke', signClear: 'Clear', signSave: 'Save signature',
      signEmpty: 'Please sign in the box first.',
      signSavedTitle: 'Signature saved',
      signSavedLead: 'Your signature is now a personal seal ({id}); choose it when you seal a document.',
      err_drawn_seal_disabled: 'Your certificate provider does not allow hand-drawn signatures. Ask them to register a personal seal for you.',
      title_drawn_seal_disabled: 'Hand-drawn signatures are not allowed',
      err_seal_limit: 'You already hold 32 valid seals and signatures, the most allowed. Ask your certificate provider to revoke one you no longer use, then try again.',
      title_seal_limit: 'Too many seals',
      err_bad_seal_image: 'This signature cannot be used (too small, too long and thin, or empty). Please write it again.',
      err_no_signing_credential: 'A hand-drawn signature is bound to your signing certificate, and you have no valid one now. Request a signing certificate on the Certificates page first (a new one if yours expired or was revoked), then save your signature once it is issued.',
      title_no_signing_credential: 'No signing certificate yet',
      signToCerts: 'Certificates',
      signNoCred_none: 'A hand-drawn signature is bound to your signing certificate, and you have none yet. Request a signing certificate on the Certificates page first, then come back to write your signature once it is issued.',
      signNoCred_pending: 'A hand-drawn signature is bound to your signing certificate. The one you requested is still waiting to be issued: come back to write your signature once it is. The Certificates page shows where it stands.',
      signNoCred_expired: 'A hand-drawn signature is bound to your signing certificate, and yours has expired. Request a new signing certificate on the Certificates page, then come back to write your signature once it is issued.',
      signNoCred_revoked: 'A hand-drawn signature is bound to your signing certificate, and yours was revoked. Request a new signing certificate on the Certificates page, then come back to write your signature once it is issued.',
      title_sign_pending: 'Signing certificate not issued yet',
      signDisabled: 'Your certificate provider has not turned on hand-drawn signatures, so you cannot write one here. If you need a personal seal on your documents, ask your certificate provider to register one for you.',
      lost: 'Lost your phone?',
      lostTitle: 'Lost or new phone',
      lostP1: 'Call your certificate provider at once and give them the device ID below: they disable this phone.',
      lostP2: 'Your certificates’ private keys are not on the phone: without your PIN, whoever finds it cannot use them.',
      lostP3: 'For a new phone, ask for a new activation code and activate with your current PIN: your certificates carry over.',
      userId: 'User ID',
      footer: 'Protected by ukeygate'
    }
  };

  // Certificate sessions: the user hands over certificates (no PIN).
  [['zh', {
    kind_certificate: '提供证书', kindLead_certificate: '申请获取您选择的证书（不使用私钥，无需 PIN）',
    doneTitle_certificate: '已提供证书', act_certificate: '提供证书', pinFor_certificate: '提供证书（{app}）',
    chooseCerts: '选择要提供的证书', certsNoPin: '只提供证书（公开信息），不使用私钥，确认时无需输入 PIN。',
    handOver: '提供 {n} 张证书'
  }], ['en', {
    kind_certificate: 'Certificate request', kindLead_certificate: 'asks for the certificates you choose (no key is used, no PIN)',
    doneTitle_certificate: 'Certificates handed over', act_certificate: 'Certificate handover', pinFor_certificate: 'Certificates for {app}',
    chooseCerts: 'Choose the certificates to hand over', certsNoPin: 'Only the certificates (public) are handed over: no key is used and no PIN is asked.',
    handOver: 'Hand over {n}'
  }]].forEach(function (x) {
    Object.keys(x[1]).forEach(function (k) { if (TEXT[x[0]][k] === undefined) { TEXT[x[0]][k] = x[1][k]; } });
  });

  // Seal sessions: the PDFs, where the seal goes, which seal.
  [['zh', {
    documents_seal: '待盖章文件', pagesN: '共 {n} 页', pagesOne: '共 1 页',
    placeAt: '第 {page} 页 · x {x} mm / y {y} mm', placeKeyword: '文字“{k}”处（每处一枚）',
    placeNote: '位置为印章中心，从页面左上角量起。',
    straddleAt: '骑缝章：第 {from}–{to} 页右边缘，距上 {y} mm',
    chooseSeal: '选择印章', useSeal: '使用印章', sealSize: '{w} × {h} mm', sealImage: '印章图样：{name}',
    sealKind_official: '公章', sealKind_contract: '合同章', sealKind_finance: '财务章', sealKind_legal_rep: '法人章', sealKind_personal: '个人签名',
    noSeal: '您没有可用于此请求的有效印章。请联系证书服务机构制作印章。',
    err_seal_required: '请先选择印章。', err_seal_mismatch: '所选印章不能与所选证书一起使用。',
    err_seal_not_found: '所选印章不存在。', err_seal_not_active: '所选印章已失效（已吊销或已过期）。',
    fileTextLabel: '网关从文件读出',
    fileTextNote: '以下是网关自己从待盖章的 PDF 中读出的文字，不是网站的说法。网关只读文字：图片、扫描件和手写内容读不出，也不显示。',
    ftSealsN: '盖章 {n} 处', ftSealsOne: '盖章 1 处', ftPlusStraddle: '另有骑缝章', ftFirst: '第 1 页开头', ftSpotMissing: '盖章处 {n}：文字“{k}”处',
    ftSpotAt: '盖章处 {n}：第 {page} 页 · x {x} / y {y} mm', ftSpotKeyword: '盖章处 {n}：第 {page} 页，文字“{k}”处',
    ftNoText: '此页无可读文字（可能是扫描件或图片）。', ftFar: '印章中心附近没有文字；最近的文字在约 {d} mm 外：',
    ftNotFound: '文件中没有找到文字“{k}”：无法在此处盖章，确认后将失败。',
    ftLeftOut: '另有 {n} 处盖章位置未列出。', ftHidden: '[U+…] 表示文件中不可见或改变文字方向的字符，网关以此代替显示。',
    ftSketch: '第 {page} 页草图', ftSketchAlt: '第 {page} 页草图：网关读出的文字和盖章位置',
    ftSketchNote: '草图由网关按读出的文字画出，红色虚线框为印章位置；图片、线条、表格和手写内容不画出，字体与原文件不同。',
    ftAnnot: '批注', ftAnnotNote: '标“批注”的文字是文件中的批注（图章、注释、表单栏等）叠加在页面上显示的，不是页面正文；草图中以蓝色虚线框标出。',
    ftViewerForms: '此文件的表单栏由阅读软件按填写内容自行显示，其中有网关无法确定显示效果的（格式文本、分格栏、密码栏或异常内容）：您的阅读软件在表单栏中显示的可能与网关读出的不同，请打开文件核对。'
  }], ['en', {
    documents_seal: 'Documents to seal', pagesN: '{n} pages', pagesOne: '1 page',
    placeAt: 'page {page} · x {x} mm / y {y} mm', placeKeyword: 'at the text “{k}” (one seal each)',
    placeNote: 'Positions are the seal’s centre, from the page’s top-left corner.',
    straddleAt: 'Straddle seal (骑缝章): right edges of pages {from}–{to}, {y} mm from the top',
    chooseSeal: 'Choose a seal', useSeal: 'Seal', sealSize: '{w} × {h} mm', sealImage: 'Seal image: {name}',
    sealKind_official: 'Official seal', sealKind_contract: 'Contract seal', sealKind_finance: 'Finance seal', sealKind_legal_rep: 'Legal representative', sealKind_personal: 'Personal signature',
    noSeal: 'You have no valid seal for this request. Ask your certificate provider to make one.',
    err_seal_required: 'Choose a seal first.', err_seal_mismatch: 'The chosen seal cannot be used with the chosen certificate.',
    err_seal_not_found: 'The chosen seal does not exist.', err_seal_not_active: 'The chosen seal is no longer valid (revoked or expired).',
    fileTextLabel: 'Read from the file by the gateway',
    fileTextNote: 'The text below is what the gateway itself read in the PDF to be sealed, not what the website says. Only text is read: pictures, scans and handwriting are neither read nor shown.',
    ftSealsN: '{n} seals', ftSealsOne: '1 seal', ftPlusStraddle: 'and a straddle seal', ftFirst: 'Start of page 1', ftSpotMissing: 'Seal {n}: at the text “{k}”',
    ftSpotAt: 'Seal {n}: page {page} · x {x} / y {y} mm', ftSpotKeyword: 'Seal {n}: page {page}, at the text “{k}”',
    ftNoText: 'No readable text on this page (a scan or a picture?).', ftFar: 'No text near the seal; the nearest is about {d} mm away:',
    ftNotFound: 'The text “{k}” is not in the file: no seal can go there, and confirming will fail.',
    ftLeftOut: '{n} more seal positions not listed.', ftHidden: '[U+…] stands for a character in the file that is invisible or changes the direction of text.',
    ftSketch: 'Sketch of page {page}', ftSketchAlt: 'Sketch of page {page}: the text the gateway read and where the seal goes',
    ftSketchNote: 'The gateway draws the sketch from the text it read; the dashed red box is the seal. Pictures, lines, tables and handwriting are not drawn, and the font is not the file’s.',
    ftAnnot: 'Annotation', ftAnnotNote: 'Text marked “Annotation” is drawn over the page by an annotation in the file (a stamp, a note, a form field), not by the page itself; the sketch shows it in a dotted blue box.',
    ftViewerForms: 'This file’s form fields are drawn by the PDF viewer from their values, and the gateway cannot be sure how some of them show (rich text, boxed, password or odd values): your viewer may show other text in its form fields than the gateway read. Open the file to check.'
  }]].forEach(function (x) {
    Object.keys(x[1]).forEach(function (k) { if (TEXT[x[0]][k] === undefined) { TEXT[x[0]][k] = x[1][k]; } });
  });

  // Privacy rights: my data (export) and account deletion.
  [['zh', {
    dataSummary: '已下载的数据概览', dataName: '姓名', myData: '我的数据', myDataSub: '查看并下载我们保存的您的个人信息',
    myDataLead: '下载的文件（JSON）包含我们保存的关于您的全部个人信息：实名信息、设备及其公钥、证书（不含私钥）、印章、授权、尚未删除的扫码记录，以及与您有关的审计日志。',
    downloadData: '下载我的数据', dataReady: '已生成下载文件 {file}',
    dataCount_devices: '设备', dataCount_credentials: '证书', dataCount_seals: '印章', dataCount_delegations: '授权', dataCount_sessions: '扫码记录', dataCount_audit: '审计日志条目',
    deleteAccount: '注销账户', deleteAccountSub: '吊销证书、销毁密钥、删除个人信息',
    deleteWarnTitle: '注销后无法恢复',
    deleteWarn1: '您的全部证书将被吊销（原因：停止使用），并列入证书吊销列表。',
    deleteWarn2: '您的私钥将被销毁：用您的加密证书加密的文件（例如尚未开标的投标文件）将永远无法解密。',
    deleteWarn3: '您的姓名、证件号码、手机号、设备和印章将被删除，本手机将无法再使用。',
    deleteKeep: '依法保留：证书吊销记录、证书序列号及有效期（证书失效后保留 5 年，不含姓名），以及去标识化的操作记录。',
    deleteUnderstand: '我已了解，确认注销账户',
    deleteGo: '输入 PIN 码注销', deletePinTitle: '输入 PIN 码以注销账户', deletePinLead: '注销后无法恢复。',
    deletedTitle: '账户已注销', deletedLead: '已吊销 {n} 张证书，密钥已销毁，您的个人信息已删除。',
    err_deletion_incomplete: '账户已停用，其余清理将由服务器稍后完成。'
  }], ['en', {
    dataSummary: 'What you downloaded', dataName: 'Name', myData: 'My data', myDataSub: 'See and download what is kept about you',
    myDataLead: 'The file (JSON) holds every personal record kept about you: your real-name data, devices with their public keys, certificates (never a private key), seals, delegations, the scan sessions not yet deleted, and the audit entries about you.',
    downloadData: 'Download my data', dataReady: 'Download ready: {file}',
    dataCount_devices: 'Devices', dataCount_credentials: 'Certificates', dataCount_seals: 'Seals', dataCount_delegations: 'Delegations', dataCount_sessions: 'Scan sessions', dataCount_audit: 'Audit entries',
    deleteAccount: 'Delete my account', deleteAccountSub: 'Revoke certificates, destroy keys, erase personal data',
    deleteWarnTitle: 'This cannot be undone',
    deleteWarn1: 'All your certificates are revoked (reason: cessation of operation) and listed on the revocation list.',
    deleteWarn2: 'Your private keys are destroyed: files encrypted to your encryption certificate (bids not yet opened, say) can never be decrypted again.',
    deleteWarn3: 'Your name, ID number, phone, devices and seals are deleted; this phone can no longer be used.',
    deleteKeep: 'Kept, as the law requires: the revocation entries, certificate serials and validity (5 years after the certificate ends, without your name), and audit entries under a pseudonym.',
    deleteUnderstand: 'I understand: delete my account',
    deleteGo: 'Enter PIN to delete', deletePinTitle: 'Enter your PIN to delete your account', deletePinLead: 'This cannot be undone.',
    deletedTitle: 'Account deleted', deletedLead: '{n} certificates revoked, your keys destroyed, your personal data erased.',
    err_deletion_incomplete: 'Your account is disabled; the server finishes the clean-up later.'
  }]].forEach(function (x) {
    Object.keys(x[1]).forEach(function (k) { if (TEXT[x[0]][k] === undefined) { TEXT[x[0]][k] = x[1][k]; } });
  });

  // Self-registration (POST /v1/register, GET /v1/register/{id}) and
  // renewal (POST /v1/me/credentials/{id}/renew).
  [['zh', {
    regEntry: '还没有账户？', regEntrySub: '提交实名信息，经证书服务机构审核后即可激活本机', regStart: '自助注册',
    regMine: '我的注册申请', regMineSub: '查看审核进度',
    regTitle: '自助注册', regKindLead: '请选择注册类型。提交后由证书服务机构审核，审核通过后您会收到激活码。',
    regPerson: '个人用户', regPersonSub: '用居民身份证号码注册',
    regOrg: '单位用户', regOrgSub: '用统一社会信用代码和营业执照注册',
    regPersonTitle: '个人注册', regOrgTitle: '单位注册',
    regName: '姓名', regOrgName: '单位名称', regOrgNameHint: '与营业执照上的名称一致',
    regIDNumber: '居民身份证号码', regIDNumberHint: '18 位，最后一位可能是 X',
    regCreditCode: '统一社会信用代码', regCreditCodeHint: '18 位，见营业执照',
    regPhone: '手机号码', regOrgPhone: '联系电话', regPhoneHint: '审核结果和激活码会通过它通知您',
    regLegalRep: '法定代表人', regLegalRepHint: '选填，与营业执照一致',
    regLicence: '营业执照', regLicencePick: '选择营业执照照片', regLicenceChange: '更换照片',
    regLicenceHint: 'PNG 或 JPEG，不超过 {size}', regLicencePreview: '营业执照预览：{name}',
    regLicenceType: '请选择 PNG 或 JPEG 格式的图片。', regLicenceSize: '图片太大（{size}），请选择不超过 {max} 的图片。',
    regLicencePixels: '图片分辨率太高（{n} 万像素），请选择不超过 {max} 万像素的图片。', regLicenceBroken: '无法读取这张图片，请换一张。',
    regLicenceNeeded: '请上传营业执照照片。',
    hintIDChecksum: '校验位不符，请核对号码（以提交后的审核结果为准）。', hintIDShape: '身份证号码应为 17 位数字加 1 位数字或 X。',
    hintCreditChecksum: '校验位不符，请核对代码（以提交后的审核结果为准）。', hintCreditShape: '统一社会信用代码应为 18 位数字或大写字母（不含 I、O、S、V、Z）。',
    hintChecksumOk: '格式正确',
    regRequired: '请填写此项。',
    policyTitle: '隐私政策', policyVersion: '版本 {v}',
    policy1: '收集：姓名、证件号码（居民身份证号码或统一社会信用代码）、电话；单位另收集营业执照照片和法定代表人姓名。',
    policy2: '用途：仅用于实名审核和签发数字证书，证书上会载明您的姓名或单位名称。',
    policy3: '共享：只提供给证书服务机构的审核人员，不用于营销，不出售。',
    policy4: '保存：账户存续期间保存；注销后删除个人信息，证书吊销记录依法保留（不含姓名）。',
    policy5: '您的权利：可在“我的 → 我的数据”查看、下载个人信息，申请更正，或随时注销账户。',
    policyRead: '阅读完整隐私政策',
    consent: '我已阅读并同意《隐私政策》（版本 {v}）',
    regSubmit: '提交注册申请',
    regSending: '正在提交…',
    err_invalid_id_number: '身份证号码不正确（校验位不符），请核对。',
    err_invalid_credit_code: '统一社会信用代码不正确（校验位不符），请核对。',
    err_invalid_licence: '营业执照图片无法使用：需为完整的 PNG 或 JPEG 图片，且不超过大小限制。',
    err_policy_version: '隐私政策已更新，请阅读新版本后重新勾选同意。',
    err_registration_pending: '这个证件号码已有一份正在审核的申请，请等待审核结果。',
    err_registration_not_found: '找不到这份注册申请。',
    err_invalid_request: '请检查填写的内容。',
    fieldBad: '请检查此项。',
    regStatusTitle: '注册申请',
    regNo: '申请编号', regKind: '类型', regSubmitted: '提交时间', regDecided: '审核时间',
    regState_pending_review: '审核中', regState_approved: '已通过', regState_rejected: '未通过',
    regPendingTitle: '正在审核', regPendingLead: '证书服务机构正在审核您的注册申请。审核通过后，您会收到激活码或激活链接。',
    regApprovedTitle: '审核已通过', regApprovedLead: '证书服务机构会把激活码（或激活链接）交给您。收到后，用它激活这部手机。',
    regRejectedTitle: '申请未通过', regRejectedLead: '请根据原因修改后重新提交。',
    regReason: '原因', regRefresh: '刷新', regHaveCode: '我已收到激活码', regEnterCode: '输入激活码激活',
    regAgain: '修改后重新申请', regAbandon: '删除这份申请记录', regGone: '这份申请已不存在，请重新注册。',
    regCheckedAt: '更新于 {time}',
    // corrections
    corrRow: '更正个人信息', corrRowSub: '姓名、身份证号码、手机号码（需审核）',
    corrTitle: '更正个人信息', corrLead: '只填写需要更正的项目。更正经证书服务机构审核后生效，已签发的证书不变，之后签发的证书使用更正后的信息。',
    corrSubmit: '提交更正申请', corrEmpty: '请至少填写一项需要更正的内容。',
    corrSentTitle: '更正申请已提交', corrSentLead: '证书服务机构审核后生效（申请编号 {id}）。',
    // renewal
    state_superseded: '已续期',
    sealedTo: '数据加密给此证书',
    expBannerOne: '您有 1 张证书即将到期', expBannerN: '您有 {n} 张证书即将到期',
    expBannerLead: '请在到期前续期，否则将无法用它登录、签名或解密。',
    expIn: '{date} 到期，还剩 {n} 天', expToday: '今天到期', expChip: '即将到期',
    renew: '续期', renewTitle: '证书续期',
    renewLead: '续期将签发一张新证书，替换这张证书。已用它加密的文件仍可解密。',
    renewKeyTitle: '密钥', renewSameKey: '沿用原密钥', renewSameKeySub: '新证书使用同一个密钥',
    renewNewKey: '生成新密钥', renewNewKeySub: '更安全：新证书使用新的密钥，原密钥仍可解密旧文件',
    renewNewKeyForced: '该机构续期时会生成新的密钥；原密钥仍可解密旧文件。',
    renewGo: '输入 PIN 续期', renewPinLead: '续期 {issuer} {purpose}',
    renewedTitle: '续期成功', renewedLead: '新证书有效期至 {date}。',
    err_new_key_not_allowed: '该机构续期时不能更换密钥。',
    err_renewal_pending: '这张证书的续期正在等待机构签发。',
    renewalPending: '已申请续期，等待机构签发', renewSentTitle: '续期申请已提交', renewSentLead: '证书服务机构签发新证书后即可使用；在此之前原证书仍可使用。',
    renewedKeyNew: '新证书使用新的密钥。'
  }], ['en', {
    regEntry: 'No account yet?', regEntrySub: 'Send your real-name details; once your certificate provider approves, activate this phone', regStart: 'Register',
    regMine: 'My registration', regMineSub: 'See where it stands',
    regTitle: 'Register', regKindLead: 'Choose how you register. Your certificate provider reviews the request; once approved you receive an activation code.',
    regPerson: 'Person', regPersonSub: 'With your citizen ID number',
    regOrg: 'Organisation', regOrgSub: 'With the unified social credit code and the business licence',
    regPersonTitle: 'Register as a person', regOrgTitle: 'Register an organisation',
    regName: 'Name', regOrgName: 'Organisation name', regOrgNameHint: 'As on the business licence',
    regIDNumber: 'Citizen ID number', regIDNumberHint: '18 characters; the last may be X',
    regCreditCode: 'Unified social credit code', regCreditCodeHint: '18 characters, on the business licence',
    regPhone: 'Mobile number', regOrgPhone: 'Phone', regPhoneHint: 'Where you hear about the review and your activation code',
    regLegalRep: 'Legal representative', regLegalRepHint: 'Optional, as on the business licence',
    regLicence: 'Business licence', regLicencePick: 'Choose a photo of the licence', regLicenceChange: 'Choose another photo',
    regLicenceHint: 'PNG or JPEG, at most {size}', regLicencePreview: 'Business licence preview: {name}',
    regLicenceType: 'Choose a PNG or JPEG picture.', regLicenceSize: 'The picture is too large ({size}); choose one of at most {max}.',
    regLicencePixels: 'The picture has too many pixels ({n} × 10⁴); at most {max} × 10⁴.', regLicenceBroken: 'This picture cannot be read; choose another.',
    regLicenceNeeded: 'Add a photo of the business licence.',
    hintIDChecksum: 'The check character does not match: please check the number (the review decides).', hintIDShape: 'An ID number is 17 digits and a digit or X.',
    hintCreditChecksum: 'The check character does not match: please check the code (the review decides).', hintCreditShape: 'A credit code is 18 digits or capital letters (no I, O, S, V, Z).',
    hintChecksumOk: 'Looks right',
    regRequired: 'Please fill this in.',
    policyTitle: 'Privacy policy', policyVersion: 'Version {v}',
    policy1: 'Collected: name, ID number (citizen ID or credit code), phone; for an organisation also the licence photo and the legal representative.',
    policy2: 'Use: real-name review and issuing your certificates only; a certificate names you or your organisation.',
    policy3: 'Sharing: only with your certificate provider’s reviewers; never for marketing, never sold.',
    policy4: 'Storage: while the account exists; deleting it erases your personal data (revocation records are kept as the law requires, without your name).',
    policy5: 'Your rights: see and download your data under “Me → My data”, ask for corrections, delete your account at any time.',
    policyRead: 'Read the full privacy policy',
    consent: 'I have read and agree to the privacy policy (version {v})',
    regSubmit: 'Send my registration',
    regSending: 'Sending…',
    err_invalid_id_number: 'This ID number is not valid (its check character does not match).',
    err_invalid_credit_code: 'This credit code is not valid (its check character does not match).',
    err_invalid_licence: 'The licence picture cannot be used: it must be a whole PNG or JPEG within the size limit.',
    err_policy_version: 'The privacy policy has changed: read the new version and agree again.',
    err_registration_pending: 'A registration with this number is already being reviewed. Please wait for the result.',
    err_registration_not_found: 'This registration was not found.',
    err_invalid_request: 'Please check what you entered.',
    fieldBad: 'Please check this.',
    regStatusTitle: 'Registration',
    regNo: 'Request', regKind: 'Kind', regSubmitted: 'Sent', regDecided: 'Decided',
    regState_pending_review: 'In review', regState_approved: 'Approved', regState_rejected: 'Not approved',
    regPendingTitle: 'Being reviewed', regPendingLead: 'Your certificate provider is reviewing your registration. Once approved you receive an activation code or link.',
    regApprovedTitle: 'Approved', regApprovedLead: 'Your certificate provider gives you an activation code (or link). Use it to activate this phone.',
    regRejectedTitle: 'Not approved', regRejectedLead: 'Correct what the reason says and send it again.',
    regReason: 'Reason', regRefresh: 'Refresh', regHaveCode: 'I have my activation code', regEnterCode: 'Enter the activation code',
    regAgain: 'Correct and send again', regAbandon: 'Forget this request', regGone: 'This request no longer exists. Please register again.',
    regCheckedAt: 'Checked {time}',
    corrRow: 'Correct my details', corrRowSub: 'Name, ID number, phone (reviewed)',
    corrTitle: 'Correct my details', corrLead: 'Fill in only what needs correcting. The correction applies once your certificate provider approves it; issued certificates stay as they are, later ones carry the corrected details.',
    corrSubmit: 'Send the correction', corrEmpty: 'Fill in at least one thing to correct.',
    corrSentTitle: 'Correction sent', corrSentLead: 'It applies once your certificate provider approves it (request {id}).',
    state_superseded: 'Renewed',
    sealedTo: 'Sealed to this certificate',
    expBannerOne: '1 certificate expires soon', expBannerN: '{n} certificates expire soon',
    expBannerLead: 'Renew before it ends, or you can no longer log in, sign or decrypt with it.',
    expIn: 'Ends {date}, {n} days left', expToday: 'Ends today', expChip: 'Expires soon',
    renew: 'Renew', renewTitle: 'Renew a certificate',
    renewLead: 'Renewing issues a new certificate that replaces this one. Files encrypted to it can still be opened.',
    renewKeyTitle: 'Key', renewSameKey: 'Keep the key', renewSameKeySub: 'The new certificate certifies the same key',
    renewNewKey: 'New key', renewNewKeySub: 'Safer: a new key; the old one still opens old files',
    renewNewKeyForced: 'This provider makes a new key at each renewal; the old key still opens old files.',
    renewGo: 'Enter PIN to renew', renewPinLead: 'Renew {issuer} {purpose}',
    renewedTitle: 'Renewed', renewedLead: 'The new certificate is valid until {date}.',
    err_new_key_not_allowed: 'This provider does not change the key at renewal.',
    err_renewal_pending: 'The renewal of this certificate waits for the provider.',
    renewalPending: 'Renewal requested, waiting for the provider', renewSentTitle: 'Renewal requested', renewSentLead: 'The new certificate is usable once the provider issues it; until then the old one goes on working.',
    renewedKeyNew: 'The new certificate has a new key.'
  }]].forEach(function (x) {
    Object.keys(x[1]).forEach(function (k) { if (TEXT[x[0]][k] === undefined) { TEXT[x[0]][k] = x[1][k]; } });
  });

  // Two-party SM2 (cosign.js): its texts join these; CO is made once the
  // API is defined (start).
  var CO = null;
  if (window.ukeygateCosignApp) {
    ['zh', 'en'].forEach(function (l) {
      var x = window.ukeygateCosignApp.TEXT[l];
      Object.keys(x).forEach(function (k) { if (TEXT[l][k] === undefined) { TEXT[l][k] = x[k]; } });
    });
  }

  var LANG = pickLang();
  function pickLang() {
    var q = /[?&]lang=(zh|en)\b/.exec(location.search);
    if (q) { return q[1]; }
    try {
      var s = localStorage.getItem('ukeygate.lang');
      if (s === 'zh' || s === 'en') { return s; }
    } catch (e) { /* storage off */ }
    var langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'zh'];
    for (var i = 0; i < langs.length; i++) {
      if (/^zh/i.test(langs[i])) { return 'zh'; }
      if (/^en/i.test(langs[i])) { return 'en'; }
    }
    return 'zh';
  }

  function t(key, vars) {
    var s = TEXT[LANG][key];
    if (s === undefined) { s = TEXT.en[key]; }
    if (s === undefined) { return key; }
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, function (m, k) { return vars[k] === undefined ? m : String(vars[k]); });
    }
    return s;
  }

  function setLang(l) {
    LANG = l;
    try { localStorage.setItem('ukeygate.lang', l); } catch (e) { /* storage off */ }
    applyLang();
    rerender();
    if (sheet) { sheet.relabel(); }
  }

  function applyLang() {
    document.documentElement.lang = LANG === 'zh' ? 'zh-CN' : 'en';
    document.title = t('appName');
  }

  // ---------------------------------------------------------------------
  // Paths: the app may sit under a path prefix (public_url with a path).
  // ---------------------------------------------------------------------
  var loc = /^(.*)\/(m|q)\/([^/]*)$/.exec(location.pathname) || [null, '', 'm', ''];
  var ROOT = loc[1];                       // '' or '/prefix'
  var QR_PAYLOAD = loc[2] === 'q' && loc[3] ? location.origin + location.pathname : '';

  // ---------------------------------------------------------------------
  // Small DOM helpers (never HTML from strings: every text goes through textContent)
  // ---------------------------------------------------------------------
  var SVGNS = 'http://www.w3.org/2000/svg';
  var ICONS = {
    shield: 'M12 2l8 3v6c0 5-3.4 9.4-8 11-4.6-1.6-8-6-8-11V5l8-3zm-1 13.2l6-6-1.4-1.4-4.6 4.6-2.1-2.1L7.5 11.7l3.5 3.5z',
    scan: 'M3 7V4a1 1 0 0 1 1-1h3v2H5v2H3zm14-4h3a1 1 0 0 1 1 1v3h-2V5h-2V3zM5 17v2h2v2H4a1 1 0 0 1-1-1v-3h2zm14 0h2v3a1 1 0 0 1-1 1h-3v-2h2v-2zM3 11h18v2H3z',
    cert: 'M4 3h16a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1h-5v-2h4V5H5v10h2v2H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1zm3 4h10v2H7V7zm0 3h6v2H7v-2zm4 3.5a3 3 0 1 1 4 2.83V22l-1-.8-1 .8v-5.67a3 3 0 0 1-2-2.83z',
    history: 'M13 3a9 9 0 1 1-8.95 10h2.02A7 7 0 1 0 8 7.1V10H2V4h2v2.05A9 9 0 0 1 13 3zm-1 5h2v4.6l3.2 1.9-1 1.7L12 13.7V8z',
    user: 'M12 12a4.5 4.5 0 1 1 0-9 4.5 4.5 0 0 1 0 9zm0 2c4.4 0 8 2.2 8 5v2H4v-2c0-2.8 3.6-5 8-5z',
    home: 'M12 3l9 7.5-1.3 1.5L18 10.6V20a1 1 0 0 1-1 1h-4v-6h-2v6H7a1 1 0 0 1-1-1v-9.4L4.3 12 3 10.5 12 3z',
    key: 'M7 14a3 3 0 1 1 0-6 3 3 0 0 1 0 6zm5.65-4A6 6 0 1 0 12.65 14H15v3h3v-3h3v-4h-8.35z',
    lock: 'M12 2a5 5 0 0 1 5 5v3h1a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1V11a1 1 0 0 1 1-1h1V7a5 5 0 0 1 5-5zm0 2a3 3 0 0 0-3 3v3h6V7a3 3 0 0 0-3-3zm0 10a2 2 0 0 0-1 3.73V19h2v-1.27A2 2 0 0 0 12 14z',
    phone: 'M7 2h10a2 2 0 0 1 2 2v16a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm0 3v13h10V5H7zm4 14v1h2v-1h-2z',
    back: 'M15.4 5.4L14 4l-8 8 8 8 1.4-1.4L8.8 12z',
    chev: 'M8.6 5.4L10 4l8 8-8 8-1.4-1.4L15.2 12z',
    close: 'M6.4 5L12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z',
    check: 'M9.5 16.2L5.3 12l-1.4 1.4 5.6 5.6L20.1 8.4 18.7 7z',
    cross: 'M6.4 5L12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z',
    clock: 'M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20zm0 2a8 8 0 1 0 0 16 8 8 0 0 0 0-16zm-1 3h2v5.6l3.7 2.2-1 1.7L11 13.7V7z',
    alert: 'M12 2l10.4 18H1.6L12 2zm-1 7v5h2V9h-2zm0 7v2h2v-2h-2z',
    globe: 'M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20zm6.9 9a8 8 0 0 0-3.5-5.7c.6 1.6 1 3.5 1.1 5.7h2.4zm-4.4 0C14.3 7.6 13.2 4.9 12 4.1c-1.2.8-2.3 3.5-2.5 6.9h5zm-7 0c.1-2.2.5-4.1 1.1-5.7A8 8 0 0 0 5.1 11h2.4zm-2.4 2a8 8 0 0 0 3.5 5.7c-.6-1.6-1-3.5-1.1-5.7H5.1zm4.4 0c.2 3.4 1.3 6.1 2.5 6.9 1.2-.8 2.3-3.5 2.5-6.9h-5zm7 0c-.1 2.2-.5 4.1-1.1 5.7a8 8 0 0 0 3.5-5.7h-2.4z',
    desktop: 'M3 4h18a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1h-7v2h3v2H7v-2h3v-2H3a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1zm1 2v9h16V6H4z',
    doc: 'M6 2h8l6 6v13a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1zm7 1.5V9h5.5L13 3.5zM8 12v2h8v-2H8zm0 4v2h8v-2H8z',
    login: 'M10 3h9a1 1 0 0 1 1 1v16a1 1 0 0 1-1 1h-9v-2h8V5h-8V3zm1.6 4.4L16.2 12l-4.6 4.6-1.4-1.4 2.2-2.2H3v-2h9.4l-2.2-2.2 1.4-1.4z',
    sign: 'M14.1 3.5l6.4 6.4-10.6 10.6H3.5v-6.4L14.1 3.5zm0 2.8l-8.6 8.6V18.5h3.6l8.6-8.6-3.6-3.6zM13 20h8v2h-8v-2z',
    unlock: 'M12 2a5 5 0 0 1 5 5h-2a3 3 0 0 0-6 0v3h9a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1V11a1 1 0 0 1 1-1h1V7a5 5 0 0 1 5-5zm0 12a2 2 0 0 0-1 3.73V19h2v-1.27A2 2 0 0 0 12 14z',
    backspace: 'M8 5h12a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1H8l-6-7 6-7zm.9 2l-4.3 5 4.3 5H19V7H8.9zm2.5 1.6l2.1 2.1 2.1-2.1 1.4 1.4-2.1 2.1 2.1 2.1-1.4 1.4-2.1-2.1-2.1 2.1-1.4-1.4 2.1-2.1-2.1-2.1 1.4-1.4z',
    lang: 'M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20zm0 2a8 8 0 0 0-1 15.94V4.06A8 8 0 0 0 12 4zm1 .06v15.88A8 8 0 0 0 13 4.06z',
    seal: 'M9 2h6v6.5l-1.5 1.5v2H19a2 2 0 0 1 2 2v3H3v-3a2 2 0 0 1 2-2h5.5v-2L9 8.5V2zm-6 17h18v3H3v-3z',
    help: 'M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20zm-1 14v2h2v-2h-2zm1-10a4 4 0 0 0-4 4h2a2 2 0 1 1 2 2 1 1 0 0 0-1 1v2h2v-1.1A4 4 0 0 0 12 6z'
  };

  function icon(name, cls) {
    var s = document.createElementNS(SVGNS, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('focusable', 'false');
    if (cls) { s.setAttribute('class', cls); }
    var p = document.createElementNS(SVGNS, 'path');
    p.setAttribute('d', ICONS[name] || ICONS.help);
    p.setAttribute('fill', 'currentColor');
    s.appendChild(p);
    return s;
  }

  // h('tag.class', {attrs, on: {click: fn}, text: '…'}, children…)
  function h(spec, props) {
    var parts = spec.split('.');
    var e = document.createElement(parts[0] || 'div');
    if (parts.length > 1) { e.className = parts.slice(1).join(' '); }
    var kids = Array.prototype.slice.call(arguments, 2);
    if (props && (typeof props !== 'object' || props.nodeType || Array.isArray(props))) {
      kids.unshift(props);
      props = null;
    }
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v === undefined || v === null || v === false) { return; }
        if (k === 'text') { e.textContent = v; } else if (k === 'on') {
          Object.keys(v).forEach(function (ev) { e.addEventListener(ev, v[ev]); });
        } else if (k === 'hidden') { e.hidden = !!v; } else if (k === 'disabled') { e.disabled = !!v; } else {
          e.setAttribute(k, v === true ? '' : String(v));
        }
      });
    }
    append(e, kids);
    return e;
  }
  function append(e, kids) {
    kids.forEach(function (k) {
      if (k === null || k === undefined || k === false) { return; }
      if (Array.isArray(k)) { append(e, k); return; }
      e.appendChild(typeof k === 'string' || typeof k === 'number' ? document.createTextNode(String(k)) : k);
    });
  }

  function clear(e) { while (e.firstChild) { e.removeChild(e.firstChild); } }

  // ---------------------------------------------------------------------
  // Bytes, hashes, the device key
  // ---------------------------------------------------------------------
  var enc = new TextEncoder();
  function hex(buf) {
    var b = new Uint8Array(buf), s = '';
    for (var i = 0; i < b.length; i++) { s += (b[i] < 16 ? '0' : '') + b[i].toString(16); }
    return s;
  }
  function b64(buf) {
    var b = new Uint8Array(buf), s = '';
    for (var i = 0; i < b.length; i++) { s += String.fromCharCode(b[i]); }
    return btoa(s);
  }
  function randomHex(n) {
    var b = new Uint8Array(n);
    crypto.getRandomValues(b);
    return hex(b);
  }
  function sha256hex(bytes) {
    return crypto.subtle.digest('SHA-256', bytes).then(hex);
  }

  // derInt encodes one big-endian unsigned integer as DER INTEGER.
  function derInt(b) {
    var i = 0;
    while (i < b.length - 1 && b[i] === 0) { i++; }
    var v = Array.prototype.slice.call(b, i);
    if (v[0] & 0x80) { v.unshift(0); }
    return [0x02, v.length].concat(v);
  }
  // rawToDER turns WebCrypto's r||s into an ASN.1 SEQUENCE { r, s }.
  function rawToDER(raw) {
    var b = new Uint8Array(raw);
    var half = b.length / 2;
    var body = derInt(b.subarray(0, half)).concat(derInt(b.subarray(half)));
    return new Uint8Array([0x30, body.length].concat(body));
  }

  function pem(spki) {
    var s = b64(spki).replace(/(.{64})/g, '$1\n');
    if (s[s.length - 1] !== '\n') { s += '\n'; }
    return '-----BEGIN PUBLIC KEY-----\n' + s + '-----END PUBLIC KEY-----\n';
  }

  function newDeviceKey() {
    return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  }

  // ---------------------------------------------------------------------
  // IndexedDB: one record, the device (its key pair is a non-extractable
  // CryptoKey: the browser stores it, the page can only sign with it).
  // ---------------------------------------------------------------------
  var DB_NAME = 'ukeygate';
  var DEVICE_KEY = 'device:' + (ROOT || '/');
  function db() {
    return new Promise(function (resolve, reject) {
      var r = indexedDB.open(DB_NAME, 1);
      r.onupgradeneeded = function () { r.result.createObjectStore('kv'); };
      r.onsuccess = function () { resolve(r.result); };
      r.onerror = function () { reject(r.error); };
    });
  }
  function dbDo(mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var tx = d.transaction('kv', mode);
        var req = fn(tx.objectStore('kv'));
        tx.oncomplete = function () { d.close(); resolve(req && req.result); };
        tx.onerror = tx.onabort = function () { d.close(); reject(tx.error); };
      });
    });
  }
  function loadDevice() { return dbDo('readonly', function (s) { return s.get(DEVICE_KEY); }); }
  function saveDevice(d) { return dbDo('readwrite', function (s) { return s.put(d, DEVICE_KEY); }); }
  function forgetDevice() { return dbDo('readwrite', function (s) { return s.delete(DEVICE_KEY); }); }

  // ---------------------------------------------------------------------
  // The phone API
  // ---------------------------------------------------------------------
  var skewMs = 0; // server clock minus ours, learned from Date headers

  function ApiError(status, body) {
    var e = (body && body.error) || {};
    this.status = status;
    this.code = e.code || (status ? 'http_' + status : 'network');
    this.message = e.message || '';
    this.remaining = e.remaining_tries;
    this.retryAfter = e.retry_after_seconds;
    this.reason = e.reason;
    this.field = e.field || '';
  }

  function api(method, path, body, signed) {
    return send(method, path, body, signed, true);
  }

  function send(method, path, body, signed, mayRetry) {
    var raw = body === undefined ? '' : JSON.stringify(body);
    var url = ROOT + path;
    var headers = { Accept: 'application/json' };
    if (raw) { headers['Content-Type'] = 'application/json'; }
    var ready = Promise.resolve();
    if (signed) {
      if (!S.device) { return Promise.reject(new ApiError(0, { error: { code: 'not_enrolled' } })); }
      var ts = String(Math.floor((Date.now() + skewMs) / 1000));
      var nonce = randomHex(16);
      ready = sha256hex(enc.encode(raw)).then(function (bodyHash) {
        var msg = method + '\n' + url + '\n' + ts + '\n' + nonce + '\n' + bodyHash;
        return crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, S.device.privateKey, enc.encode(msg));
      }).then(function (sig) {
        headers['X-Device'] = S.device.deviceId;
        headers['X-Timestamp'] = ts;
        headers['X-Nonce'] = nonce;
        headers['X-Signature'] = b64(rawToDER(sig));
      });
    }
    busy(1);
    return ready.then(function () {
      return fetch(url, { method: method, headers: headers, body: raw || undefined, credentials: 'omit', cache: 'no-store', redirect: 'error' });
    }).then(function (r) {
      var date = Date.parse(r.headers.get('Date') || '');
      if (!isNaN(date)) {
        var d = date - Date.now();
        skewMs = Math.abs(d) > 2000 ? d : 0;
      }
      if (r.status === 204) { return null; }
      return r.json().catch(function () { return null; }).then(function (j) {
        if (!r.ok) { throw new ApiError(r.status, j); }
        return j;
      });
    }, function (err) {
      if (err instanceof ApiError) { throw err; }
      throw new ApiError(0, { error: { code: 'network', message: String(err) } });
    }).then(function (v) { busy(-1); return v; }, function (err) {
      busy(-1);
      // A wrong phone clock: the Date header taught us the offset; once.
      if (signed && mayRetry && err.code === 'stale_timestamp') {
        return send(method, path, body, signed, false);
      }
      throw err;
    });
  }

  var busyCount = 0;
  function busy(d) {
    busyCount += d;
    if (busyCount > 0) { document.body.setAttribute('data-busy', '1'); } else { document.body.removeAttribute('data-busy'); }
  }

  // errText turns an API error into one sentence in the user's language.
  function errText(err) {
    if (!err || !err.code) { return t('err_generic', { code: '?' }); }
    if (err.code === 'pin_locked') {
      if (err.retryAfter) {
        var until = new Date(Date.now() + err.retryAfter * 1000);
        return t('err_pin_locked', { time: fmtTime(until, err.retryAfter > 20 * 3600) });
      }
      return t('err_pin_locked_soon');
    }
    if (err.code === 'operation_failed' && err.reason === 'wrong_code') { return t('err_wrong_code'); }
    if (err.code === 'network' || err.code === 'http_0') { return t('err_network'); }
    var k = 'err_' + err.code;
    if (TEXT[LANG][k]) { return t(k); }
    return t('err_generic', { code: err.code });
  }

  // ---------------------------------------------------------------------
  // Formatting
  // ---------------------------------------------------------------------
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function fmtDate(d) { return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()); }
  function fmtTime(d, withDate) {
    var s = pad(d.getHours()) + ':' + pad(d.getMinutes());
    return withDate ? fmtDate(d) + ' ' + s : s;
  }
  function fmtSize(n) {
    if (n < 1024) { return t('bytes', { n: n }); }
    if (n < 1024 * 1024) { return (n / 1024).toFixed(1) + ' KB'; }
    return (n / 1024 / 1024).toFixed(1) + ' MB';
  }
  function fmtRemaining(s) { return Math.floor(s / 60) + ':' + pad(s % 60); }
  function shortDigest(d) { return d.length > 20 ? d.slice(0, 8) + '…' + d.slice(-8) : d; }
  function groupDigest(d) { return d.replace(/(.{8})/g, '$1 ').trim(); }

  // browserOf summarises a user agent: "Chrome on Windows".
  function browserOf(ua) {
    if (!ua) { return '—'; }
    var b = /Edg\//.test(ua) ? 'Edge' : /MicroMessenger/.test(ua) ? (LANG === 'zh' ? '微信' : 'WeChat') :
      /Firefox\//.test(ua) ? 'Firefox' : /(Chrome|Chromium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : '';
    var os = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /(iPhone|iPad)/.test(ua) ? 'iOS' :
      /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : '';
    if (!b && !os) { return ua.length > 40 ? ua.slice(0, 40) + '…' : ua; }
    if (!b) { return os; }
    if (!os) { return b; }
    return LANG === 'zh' ? os + ' 上的 ' + b : b + ' on ' + os;
  }

  function guessDeviceName() {
    var ua = navigator.userAgent;
    var m = /Android [\d.]+; ([^;)]+?)(?: Build|\))/.exec(ua);
    var model = /iPhone/.test(ua) ? 'iPhone' : /iPad/.test(ua) ? 'iPad' : m && m[1] && m[1] !== 'K' ? m[1] : /Android/.test(ua) ? 'Android' : '';
    var b = /Edg\//.test(ua) ? 'Edge' : /MicroMessenger/.test(ua) ? 'WeChat' : /Firefox\//.test(ua) ? 'Firefox' :
      /(Chrome|Chromium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : '';
    if (model) { return (model + (b ? ' · ' + b : '')).slice(0, 64); }
    return (LANG === 'zh' ? '手机浏览器' : 'Phone browser');
  }

  // Activation codes: Crockford base32, 20 characters, shown in groups.
  function normCode(s) {
    return String(s || '').toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  }
  function validCode(s) { return /^[0-9A-HJKMNP-TV-Z]{20}$/.test(normCode(s)); }
  function groupCode(s) { return normCode(s).slice(0, 20).replace(/(.{5})(?=.)/g, '$1-'); }

  // PIN policy, as the gateway checks it (ca: 6 to 12 digits, not all the
  // same, not a run up or down).
  function pinRules(pin) {
    var same = true, up = true, down = true;
    for (var i = 1; i < pin.length; i++) {
      var d = pin.charCodeAt(i) - pin.charCodeAt(i - 1);
      same = same && d === 0;
      up = up && (d === 1 || d === -9);
      down = down && (d === -1 || d === 9);
    }
    var long = pin.length >= 6 && pin.length <= 12;
    return { len: long, same: pin.length < 2 ? null : !same, run: pin.length < 3 ? null : !(up || down), ok: long && !same && !(up || down) };
  }

  // ---------------------------------------------------------------------
  // State and screens
  // ---------------------------------------------------------------------
  var S = {
    device: null,       // {deviceId, deviceName, userId, userName, privateKey, publicKeyPem, enrolledAt}
    view: '',
    render: null,       // re-renders the current screen (language switch)
    pendingPayload: QR_PAYLOAD,
    pendingCode: '',
    issuers: null,
    registration: null, // the self-registration this browser sent: {id, kind, state, fields, reason, …}
    regPolicy: null,    // GET /v1/register/policy
    timers: []
  };

  var main;
  function clearTimers() {
    S.timers.forEach(function (id) { clearInterval(id); clearTimeout(id); });
    S.timers = [];
  }

  // screen shows a new screen: view names it (body[data-view]); build
  // returns its nodes; opts: tabs (the tab to mark), actions (a bottom
  // bar, or a function building it: built again, in the language just
  // chosen, on a language switch).
  function screen(view, build, opts) {
    opts = opts || {};
    // A language switch builds the same screen again: what the user typed
    // in its fields stays.
    var again = S.rerendering;
    var typed = again ? typedValues() : null;
    S.rerendering = false;
    // The PIN keypad open over the screen stays through a language
    // switch (relabelled by setLang, the digits typed kept).
    if (!again) { closeSheet(); }
    stopCamera();
    clearTimers();
    S.view = view;
    S.render = function () { screen(view, build, opts); };
    document.body.setAttribute('data-view', view);
    document.body.classList.toggle('has-tabs', !!opts.tab);
    document.body.classList.toggle('has-actions', !!opts.actions);
    clear(main);
    append(main, [build()]);
    if (typed) { restoreTyped(typed); }
    var old = document.querySelectorAll('.tabbar, .actions');
    Array.prototype.forEach.call(old, function (n) { n.parentNode.removeChild(n); });
    if (opts.actions) { document.getElementById('app').appendChild(val(opts.actions)); }
    if (opts.tab) { document.getElementById('app').appendChild(tabbar(opts.tab)); }
    if (!opts.keepScroll) { window.scrollTo(0, 0); }
    var h1 = main.querySelector('h1');
    if (h1 && opts.focus !== false && S.focusOnRender) {
      h1.setAttribute('tabindex', '-1');
      h1.focus({ preventScroll: true });
    }
    S.focusOnRender = true;
  }

  function rerender() {
    if (S.render) {
      S.focusOnRender = false;
      S.rerendering = true;
      S.render();
      S.rerendering = false;
    }
  }

  // typedValues and restoreTyped keep the text fields of a screen built
  // again (by their id): the value, and an input event for the screen's
  // own checks. File pickers cannot be refilled; screens keep their file.
  function typedValues() {
    var kept = {};
    Array.prototype.forEach.call(main.querySelectorAll('input[id], textarea[id]'), function (e) {
      if (e.type !== 'file' && e.type !== 'checkbox' && e.type !== 'radio') { kept[e.id] = e.value; }
    });
    return kept;
  }
  function restoreTyped(kept) {
    Object.keys(kept).forEach(function (id) {
      var e = document.getElementById(id);
      if (e && main.contains(e) && e.value !== kept[id]) {
        e.value = kept[id];
        e.dispatchEvent(new Event('input'));
      }
    });
  }

  // val is x, or what x returns when it is a function (a text or nodes
  // made in the language of the moment); tx(key, vars) is such a text.
  function val(x) { return typeof x === 'function' ? x() : x; }
  function tx(key, vars) { return function () { return t(key, vars); }; }

  // topbar: back (or nothing), the screen's title, and the language
  // switch, on every screen that has one.
  function topbar(title, onBack, extra) {
    return h('header.topbar' + (onBack ? '' : '.center'),
      onBack ? h('button.icon-btn', { type: 'button', 'aria-label': t('back'), 'data-t': 'back', on: { click: onBack } }, icon('back')) : h('span.spacer'),
      h('h1', { text: title }),
      extra || langButton(true));
  }

  // brandbar: the app's name and the language switch, for the screens a
  // QR code opens (no tab bar there).
  function brandbar() {
    return h('header.brandbar', h('div.brand', icon('shield'), h('span', { text: t('appName') })), langButton(true));
  }

  function langButton(dark, name) {
    return labelLang(h('button.lang-btn' + (dark ? '.dark' : ''), {
      type: 'button', 'data-t': name || 'lang',
      on: { click: function () { setLang(LANG === 'zh' ? 'en' : 'zh'); } }
    }));
  }
  // labelLang names the switch in the language it switches to.
  function labelLang(b) {
    b.lang = LANG === 'zh' ? 'en' : 'zh';
    b.setAttribute('aria-label', t('langSwitchLabel'));
    b.textContent = t('langSwitch');
    return b;
  }

  function tabbar(active) {
    function tab(name, label, ic, go) {
      return h('button', { type: 'button', 'data-t': 'tab-' + name, 'aria-current': active === name ? 'page' : null, on: { click: go } },
        icon(ic), h('span', { text: label }));
    }
    return h('nav.tabbar', { 'aria-label': t('tabsLabel') },
      tab('home', t('tabHome'), 'home', showHome),
      tab('certs', t('tabCerts'), 'cert', showCerts),
      h('button.tab-scan', { type: 'button', 'data-t': 'tab-scan', on: { click: function () { showCamera(); } } },
        h('span.tab-scan-icon', icon('scan')), h('span', { text: t('tabScan') })),
      tab('history', t('tabHistory'), 'history', showHistory),
      tab('me', t('tabMe'), 'user', showMe));
  }

  var toastTimer = null;
  function toast(msg) {
    var old = document.querySelector('.toast');
    if (old) { old.parentNode.removeChild(old); }
    var e = h('div.toast', { role: 'status', 'aria-live': 'polite', 'data-t': 'toast', text: msg });
    // A tap puts it away at once (it stands over the page for 3.5 s).
    e.addEventListener('click', function () { if (e.parentNode) { e.parentNode.removeChild(e); } });
    document.body.appendChild(e);
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { if (e.parentNode) { e.parentNode.removeChild(e); } }, 3500);
  }

  // loadingScreen: text is a string or tx(…) (a slow answer may be
  // waited for in the language just chosen).
  function loadingScreen(view, text) {
    screen(view, function () {
      return h('div', brandbar(),
        h('div.boot', { role: 'status', 'aria-live': 'polite' }, h('div.spinner', { 'aria-hidden': 'true' }), h('p', { text: val(text) })));
    });
  }

  // outcome shows a result screen: kind ok|bad|warn|info; title, lead,
  // buttons and extra (if given; it goes under the sentence) are made by
  // val, so that functions of them (tx(…)) follow a language switch:
  // every result screen has the switch, and keeps its state through it.
  function outcome(view, kind, ic, title, lead, buttons, extra) {
    screen(view, function () {
      return h('div', brandbar(),
        h('section.outcome', { 'data-t': 'outcome', 'data-kind': kind },
          h('div.badge.' + kind, icon(ic)),
          h('h1', { text: val(title) }),
          h('p', { 'data-t': 'message', text: val(lead) }),
          val(extra) || null));
    }, {
      actions: function () {
        return h('div.actions', val(buttons) || h('button.btn.btn-primary', { type: 'button', 'data-t': 'done', on: { click: showStart } }, t('done')));
      }
    });
  }

  function refusal(err, view) {
    var ic = err && (err.code === 'session_expired' || err.code === 'pin_locked') ? 'clock' : 'alert';
    function buttons() {
      if (err && err.code === 'unknown_device') {
        return h('button.btn.btn-primary', { type: 'button', 'data-t': 'reactivate', on: { click: function () {
          forgetDevice().then(function () { S.device = null; showEnrollCode(); });
        } } }, t('activate'));
      }
      return h('button.btn.btn-primary', { type: 'button', 'data-t': 'done', on: { click: showStart } }, S.device ? t('home') : t('done'));
    }
    var c = err && err.code === 'operation_failed' && err.reason === 'wrong_code' ? 'wrong_code' : err && err.code;
    function title() { return TEXT[LANG]['title_' + c] ? t('title_' + c) : t('refusedTitle'); }
    // A locked PIN may be a forgotten one: say how to get a new one.
    function extra() {
      return c === 'pin_locked' ? h('div.pin-recovery', { 'data-t': 'pin-recovery' },
        h('h2', { text: t('pinRecoveryTitle') }), h('p', { text: t('pinRecovery') })) : null;
    }
    outcome(view || 'refused', c === 'session_expired' ? 'warn' : 'bad', ic, title, function () { return errText(err); }, buttons, extra);
    document.body.setAttribute('data-error', err && err.code || '');
  }

  function showStart() {
    document.body.removeAttribute('data-error');
    if (S.device) { showHome(); } else { showWelcome(); }
  }

  // ---------------------------------------------------------------------
  // Welcome, unsupported
  // ---------------------------------------------------------------------
  function showUnsupported(insecure) {
    screen('unsupported', function () {
      return h('section.outcome',
        h('div.badge.warn', icon('lock')),
        h('h1', { text: t('unsupportedTitle') }),
        h('p', { 'data-t': 'message', text: insecure ? t('unsupportedInsecure') : t('unsupportedApis') }),
        h('p.footer-note', langButton(true)));
    });
  }

  function showWelcome() {
    screen('welcome', function () {
      return h('div',
        h('header.hero.welcome-hero',
          h('div.hero-top', h('div.brand', icon('shield'), h('span', { text: t('appName') })), langButton()),
          icon('shield', 'shield'),
          h('h1', { text: t('welcomeTitle') }),
          h('p', { text: t('welcomeLead') })),
        h('div.section',
          h('div.card',
            h('ul.features',
              feature('scan', t('feat1'), t('feat1d')),
              feature('sign', t('feat2'), t('feat2d')),
              feature('lock', t('feat3'), t('feat3d'))))),
        h('div.section', S.registration ?
          h('ul.list', h('li', h('button.row', { type: 'button', 'data-t': 'reg-mine', on: { click: showRegStatus } },
            h('span.row-icon', icon('doc')), h('span.row-main', h('span.row-title', { text: t('regMine') }),
              h('span.row-sub', { text: t('regState_' + (S.registration.state || 'pending_review')) + ' · ' + S.registration.id })), icon('chev', 'chev')))) :
          [h('h2.section-title', { text: t('regEntry') }),
            h('ul.list', h('li', h('button.row', { type: 'button', 'data-t': 'reg-start', on: { click: showRegister } },
              h('span.row-icon', icon('user')), h('span.row-main', h('span.row-title', { text: t('regStart') }), h('span.row-sub', { text: t('regEntrySub') })), icon('chev', 'chev'))))]),
        h('p.footer-note', { text: t('footer') }));
    }, {
      actions: function () {
        return h('div.actions',
          h('button.btn.btn-secondary', { type: 'button', 'data-t': 'scan-activation', 'aria-label': t('scanActivation'), on: { click: function () { showCamera(); } } }, icon('scan'), h('span', { text: t('scanShort') })),
          // Short beside Scan: one line in the bar at 320 px.
          h('button.btn.btn-primary', { type: 'button', 'data-t': 'activate', 'aria-label': t('activate'), on: { click: function () { showEnrollCode(); } } }, t('activateShort')));
      }
    });
  }

  function feature(ic, title, text) {
    return h('li', h('span.f-icon', icon(ic)), h('div', h('strong', { text: title }), h('span.muted', { text: text })));
  }

  // ---------------------------------------------------------------------
  // Enrollment: code -> name -> PIN -> PIN again -> POST /v1/enroll
  // ---------------------------------------------------------------------
  var E = {}; // the enrollment being typed: code, name, pin (cleared after)

  function steps(n) {
    return h('ol.steps', { 'aria-hidden': 'true' }, [1, 2, 3].map(function (i) { return h('li' + (i <= n ? '.done' : '')); }));
  }

  function showEnrollCode(err) {
    if (!E.code && S.pendingCode) { E.code = S.pendingCode; }
    var input, alert;
    screen('enroll-code', function () {
      input = h('input.code-input', {
        id: 'code', name: 'activation-code', type: 'text', inputmode: 'text', autocomplete: 'off', autocapitalize: 'characters',
        spellcheck: 'false', 'aria-describedby': 'code-hint', maxlength: '29', 'data-t': 'code', value: E.code ? groupCode(E.code) : ''
      });
      input.addEventListener('input', function () {
        var caret = input.selectionStart === input.value.length;
        var g = groupCode(input.value);
        if (caret && g !== input.value && normCode(input.value).length <= 20) { input.value = g; }
      });
      input.addEventListener('keydown', function (e) { if (e.key === 'Enter') { go(); } });
      alert = h('div.alert', { role: 'alert', 'data-t': 'error', text: err || '' });
      return h('div',
        topbar(t('enrollTitle'), S.device ? showMe : showWelcome),
        h('div.section',
          steps(1),
          h('p.page-lead', { text: t('enrollCodeLead') }),
          h('div.field', h('label', { for: 'code', text: t('codeLabel') }), input, h('div.hint', { id: 'code-hint', text: t('codeHint') })),
          alert,
          h('p', h('button.btn-link', { type: 'button', 'data-t': 'scan-activation', on: { click: function () { showCamera(); } } }, t('scanActivation')))));
    }, { actions: function () { return h('div.actions', h('button.btn.btn-primary', { type: 'button', 'data-t': 'next', on: { click: go } }, t('next'))); } });
    function go() {
      if (!validCode(input.value)) {
        alert.textContent = t('codeBad');
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      E.code = normCode(input.value);
      showEnrollName();
    }
  }

  function showEnrollName() {
    var input, alert;
    screen('enroll-name', function () {
      input = h('input', { id: 'device-name', type: 'text', autocomplete: 'off', maxlength: '64', 'data-t': 'device-name', value: E.name || guessDeviceName() });
      input.addEventListener('keydown', function (e) { if (e.key === 'Enter') { go(); } });
      alert = h('div.alert', { role: 'alert', 'data-t': 'error' });
      return h('div',
        topbar(t('nameTitle'), function () { showEnrollCode(); }),
        h('div.section', steps(2),
          h('p.page-lead', { text: t('nameLead') }),
          h('div.field', h('label', { for: 'device-name', text: t('nameLabel') }), input),
          alert));
    }, { actions: function () { return h('div.actions', h('button.btn.btn-primary', { type: 'button', 'data-t': 'next', on: { click: go } }, t('next'))); } });
    function go() {
      var v = input.value.trim();
      if (!v || v.length > 64) { alert.textContent = t('nameBad'); input.focus(); return; }
      E.name = v;
      showEnrollPIN();
    }
  }

  function showEnrollPIN(msg) {
    screen('enroll-pin', function () {
      return h('div', topbar(t('pinSetTitle'), function () { showEnrollName(); }), h('div.section', steps(3), h('p.page-lead', { text: t('pinReenrollNote') })));
    });
    pinSheet({
      title: tx('pinSetTitle'), lead: tx('pinSetLead'), rules: true, message: msg, dismissible: true,
      onCancel: function () { showEnrollName(); },
      onSubmit: function (pin) {
        E.pin = pin;
        showEnrollPIN2();
        return Promise.resolve();
      }
    });
  }

  function showEnrollPIN2() {
    screen('enroll-pin2', function () {
      return h('div', topbar(t('pinAgainTitle'), function () { showEnrollPIN(); }), h('div.section', steps(3)));
    });
    pinSheet({
      title: tx('pinAgainTitle'), lead: tx('pinAgainLead'), repeat: true, dismissible: true,
      onCancel: function () { E.pin = ''; showEnrollPIN(); },
      onSubmit: function (pin) {
        if (pin !== E.pin) {
          E.pin = '';
          showEnrollPIN(tx('pinMismatch'));
          return Promise.resolve();
        }
        return enroll();
      }
    });
  }

  function enroll() {
    var pin = E.pin;
    E.pin = '';
    var keys;
    loadingScreen('enrolling', tx('enrolling'));
    return newDeviceKey().then(function (k) {
      keys = k;
      return crypto.subtle.exportKey('spki', k.publicKey);
    }).then(function (spki) {
      var pub = pem(spki);
      return api('POST', '/v1/enroll', { activation_code: E.code, device_public_key: pub, device_name: E.name, pin: pin }, false).then(function (res) {
        var d = {
          deviceId: res.device.id, deviceName: res.device.name, userId: res.user.id, userName: res.user.name,
          privateKey: keys.privateKey, publicKeyPem: pub, enrolledAt: res.device.created_at || new Date().toISOString()
        };
        return saveDevice(d).then(function () { return d; });
      });
    }).then(function (d) {
      S.device = d;
      S.pendingCode = '';
      E = {};
      pin = '';
      // Enrolled: a registration that led here is done.
      if (S.registration) { forgetRegistration().catch(function () { /* kept: harmless */ }); }
      showEnrolled();
    }, function (err) {
      pin = '';
      var c = err && err.code;
      if (c === 'activation_invalid' || c === 'activation_used' || c === 'activation_expired') {
        showEnrollCode(errText(err));
      } else if (c === 'weak_pin') {
        showEnrollPIN(function () { return errText(err); });
      } else if (c === 'wrong_pin') {
        showEnrollPIN(tx('err_wrong_pin_enroll', { n: err.remaining }));
      } else if (c === 'pin_locked') {
        refusal(err);
      } else {
        showEnrollCode(errText(err));
      }
    });
  }

  // showEnrolled: success, then the first certificates (or the QR code
  // that brought the user here).
  function showEnrolled() {
    fetchIssuers().then(function (issuers) {
      var usable = issuers.filter(function (i) { return i.mode === 'internal' || i.mode === 'external'; });
      var keep = {};
      screen('enrolled', function () {
        return h('div', brandbar(),
          h('section.outcome',
            h('div.badge.ok', icon('check')),
            h('h1', { text: t('enrolledTitle') }),
            h('p', { 'data-t': 'message', text: t('enrolledLead', { name: S.device.userName }) })),
          h('div.section', certRequestForm(usable, true, keep)));
      }, {});
    }, function (err) { refusal(err); });
  }

  function fetchIssuers() {
    if (S.issuers) { return Promise.resolve(S.issuers); }
    return api('GET', '/v1/issuers', undefined, false).then(function (r) {
      S.issuers = (r && r.issuers) || [];
      return S.issuers;
    });
  }

  function issuerName(id) {
    var list = S.issuers || [];
    for (var i = 0; i < list.length; i++) { if (list[i].id === id) { return list[i].name; } }
    return id;
  }

  // certRequestForm: pick an issuer, the algorithm and the purposes, then
  // the PIN. first: right after enrollment (offers both purposes). keep
  // (an object of the screen's, made outside its build) keeps the choices
  // when a language switch builds the form again.
  function certRequestForm(issuers, first, keep) {
    keep = keep || {};
    var wrap = h('div.card', { 'data-t': 'cert-form' });
    if (!issuers.length) {
      append(wrap, [h('h2', { text: t('offerTitle') }), h('p.muted', { text: t('offerNone') })]);
      if (first) { setTimeout(function () { setActions(h('button.btn.btn-primary', { type: 'button', 'data-t': 'start', on: { click: afterEnrollment } }, t('startUsing'))); }); }
      return wrap;
    }
    var sel = keep.sel = keep.sel || { issuer: issuers[0], purposes: { sign: true, encrypt: first }, alg: '', mode: 'usual' };
    var body = h('div');
    append(wrap, [h('h2', { text: t('offerTitle') }), h('p.muted', { text: t('offerLead') }), body]);
    function algsOf(iss) {
      var a = (iss.profile && iss.profile.algs && iss.profile.algs.length) ? iss.profile.algs : [iss.alg];
      return a;
    }
    function purposesOf(iss) {
      return (iss.profile && iss.profile.purposes && iss.profile.purposes.length) ? iss.profile.purposes : ['sign', 'encrypt'];
    }
    function draw() {
      clear(body);
      if (issuers.length > 1) {
        append(body, [h('h3.section-title', { id: 'iss-label', text: t('chooseIssuer') }),
          h('div', { role: 'radiogroup', 'aria-labelledby': 'iss-label' }, issuers.map(function (iss) {
            return h('button.cred-option', { type: 'button', role: 'radio', 'aria-checked': String(iss === sel.issuer), 'data-t': 'issuer-' + iss.id,
              on: { click: function () { sel.issuer = iss; sel.alg = ''; draw(); } } },
            h('span.radio-dot'), h('span.row-main', h('span.row-title', { text: iss.name }), h('span.row-sub', { text: algsOf(iss).join(' / ') })));
          }))]);
      }
      var algs = algsOf(sel.issuer);
      if (algs.indexOf(sel.alg) < 0) { sel.alg = algs[0]; }
      if (algs.length > 1) {
        append(body, [h('h3.section-title', { id: 'alg-label', text: t('chooseAlg') }),
          h('div', { role: 'radiogroup', 'aria-labelledby': 'alg-label' }, algs.map(function (a) {
            return h('button.cred-option', { type: 'button', role: 'radio', 'aria-checked': String(a === sel.alg), 'data-t': 'alg-' + a,
              on: { click: function () { sel.alg = a; draw(); } } }, h('span.radio-dot'), h('span.row-title', { text: a }));
          }))]);
      }
      var purposes = purposesOf(sel.issuer);
      append(body, [h('h3.section-title', { id: 'purpose-label', text: t('choosePurpose') }),
        h('div', { role: 'group', 'aria-labelledby': 'purpose-label' }, purposes.map(function (p) {
          return h('button.cred-option', { type: 'button', role: 'checkbox', 'aria-checked': String(!!sel.purposes[p]), 'data-t': 'purpose-' + p,
            on: { click: function () { sel.purposes[p] = !sel.purposes[p]; draw(); } } },
          h('span.check-box', icon('check')),
          h('span.row-main', h('span.row-title', { text: t('purpose_' + p) }), h('span.row-sub', { text: p === 'sign' ? t('purposeSignDesc') : t('purposeEncryptDesc') })));
        }))]);
      // SM2 keys may be two-party (cosign.js): the key split between this
      // phone and the gateway.
      if (sel.alg !== 'SM2' || !CO || !CO.available()) { sel.mode = 'usual'; } else {
        append(body, [h('h3.section-title', { id: 'mode-label', text: t('keyModeTitle') }),
          h('div', { role: 'radiogroup', 'aria-labelledby': 'mode-label' }, ['usual', 'cosign'].map(function (m) {
            var name = m === 'usual' ? 'keyModeUsual' : 'keyModeCosign';
            return h('button.cred-option', { type: 'button', role: 'radio', 'aria-checked': String(sel.mode === m), 'data-t': 'mode-' + m,
              on: { click: function () { sel.mode = m; draw(); } } },
            h('span.radio-dot'), h('span.row-main', h('span.row-title', { text: t(name) }), h('span.row-sub', { text: t(name + 'Desc') })));
          })),
          sel.mode === 'cosign' ? h('p.notice.warn', { 'data-t': 'cosign-loss', text: t('keyModeCosignLoss') }) : null]);
      }
      var chosen = purposes.filter(function (p) { return sel.purposes[p]; });
      var buttons = [];
      if (first) { buttons.push(h('button.btn.btn-secondary', { type: 'button', 'data-t': 'later', on: { click: afterEnrollment } }, t('later'))); }
      buttons.push(h('button.btn.btn-primary', { type: 'button', 'data-t': 'request', disabled: !chosen.length, on: { click: function () { request(chosen); } } }, t('requestCerts')));
      setActions(h('div.actions', buttons));
    }
    function request(purposes) {
      pinSheet({
        title: tx('pinTitle'), lead: tx(first ? 'pinForEnrollCert' : 'pinForCert'), dismissible: true,
        onSubmit: function (pin) {
          var made = [], settled = [];
          var chain = Promise.resolve();
          purposes.forEach(function (p) {
            chain = chain.then(function () {
              var req = sel.mode === 'cosign' ? CO.request(S.device.userId, sel.issuer.id, p, pin) :
                api('POST', '/v1/me/credentials', { issuer: sel.issuer.id, alg: sel.alg, purpose: p, pin: pin }, true);
              return req.then(function (r) {
                made.push(r.credential);
                settled.push(p);
              }, function (err) {
                if (err.code === 'credential_exists') { settled.push(p); return; }
                throw err;
              });
            });
          });
          return chain.then(function () {
            pin = '';
            closeSheet();
            toast(t('certsRequested'));
            if (first) { afterEnrollment(); } else { showCerts(); }
          }, function (err) {
            pin = '';
            if (err.code === 'network') {
              closeSheet();
              answerLost(purposes.filter(function (p) { return settled.indexOf(p) < 0; }));
              return null;
            }
            return pinError(err, made.length === 0);
          });
        }
      });
    }
    // answerLost: the answer to a request of purposes was lost; the
    // request may have been made. Nothing is lost (a two-party one's new
    // share is kept aside, cosign.js): try again asks the PIN and sends
    // the same request (the same share), and the gateway answers the
    // credential it made.
    function answerLost(purposes) {
      outcome('request-unsure', 'warn', 'alert', tx('reqLostTitle'), tx(sel.mode === 'cosign' ? 'reqLostLeadCosign' : 'reqLostLead'), function () {
        return [h('button.btn.btn-secondary', { type: 'button', 'data-t': 'done', on: { click: first ? afterEnrollment : showStart } }, first ? t('later') : t('home')),
          h('button.btn.btn-primary', { type: 'button', 'data-t': 'retry', on: { click: function () { request(purposes); } } }, t('retry'))];
      });
    }
    setTimeout(draw);
    return wrap;
  }

  function setActions(bar) {
    var old = document.querySelector('.actions');
    if (old) { old.parentNode.removeChild(old); }
    if (bar.classList && !bar.classList.contains('actions')) { bar = h('div.actions', bar); }
    document.body.classList.add('has-actions');
    document.getElementById('app').appendChild(bar);
  }

  // afterEnrollment goes on with the QR code that brought the user here,
  // or home.
  function afterEnrollment() {
    if (S.pendingPayload) {
      var p = S.pendingPayload;
      S.pendingPayload = '';
      showSession(p);
    } else {
      showHome();
    }
  }

  // pinError handles a refused PIN request inside the open sheet: a wrong
  // PIN keeps the sheet open; anything else closes it with the sentence.
  function pinError(err, sheetMayStay) {
    if (err.code === 'wrong_pin' && sheetMayStay) {
      return { message: err.remaining === 1 ? tx('wrongPinLast') : tx('wrongPin', { n: err.remaining }) };
    }
    closeSheet();
    refusal(err);
    return null;
  }

  // ---------------------------------------------------------------------
  // The PIN keypad sheet
  // ---------------------------------------------------------------------
  var sheet = null;
  function closeSheet() {
    if (!sheet) { return; }
    document.removeEventListener('keydown', sheet.onKey, true);
    if (sheet.el.parentNode) { sheet.el.parentNode.removeChild(sheet.el); }
    var back = sheet.returnFocus;
    sheet.clear();
    sheet = null;
    document.body.removeAttribute('data-sheet');
    if (back && back.focus && document.contains(back)) { back.focus(); }
  }

  // pinSheet opens the keypad. o: title, lead, rules (show the policy as
  // the user types: a new PIN), repeat (a new PIN typed again), message
  // (an error to show), dismissible, onCancel, onSubmit(pin) -> Promise
  // resolving to {message} to stay open with an error, or anything else
  // once done. A prompt for the PIN the user already has (neither rules
  // nor repeat) offers "Forgot your PIN?", which unfolds how to get a new
  // one. Title, lead and messages are texts or functions making them
  // (tx(…)): the keypad has the language switch, and a switch relabels it
  // in place, the digits typed kept (they never leave this function).
  function pinSheet(o) {
    closeSheet();
    var digits = '';
    var said = o.message || '';
    var dots = h('div.pin-dots', { role: 'img', 'data-t': 'pin-dots' });
    var msg = h('p.pin-msg', { role: 'alert', 'data-t': 'pin-message' });
    function say(m) { said = m || ''; msg.textContent = val(said); }
    var status = h('div.sheet-busy', { role: 'status', 'aria-live': 'polite' });
    var rules = o.rules ? h('ul.pin-rules', { 'data-t': 'pin-rules' }) : null;
    var okKey = h('button.key.ok', { type: 'button', 'data-t': 'pin-ok', disabled: true, text: t('pinOk') });
    var working = false;
    function draw() {
      clear(dots);
      var n = Math.max(6, digits.length);
      for (var i = 0; i < n; i++) { dots.appendChild(h('span' + (i < digits.length ? '.on' : ''))); }
      dots.setAttribute('aria-label', t('pinDots', { n: digits.length }));
      dots.setAttribute('data-count', String(digits.length));
      var r = pinRules(digits);
      okKey.disabled = working || !(o.rules ? r.ok : digits.length >= 6);
      if (rules) {
        clear(rules);
        [['len', 'ruleLen'], ['same', 'ruleSame'], ['run', 'ruleRun']].forEach(function (x) {
          var v = r[x[0]];
          var cls = digits.length === 0 || v === null ? '' : v ? '.met' : '.broken';
          rules.appendChild(h('li' + cls, { 'data-rule': x[0], 'data-met': v === null ? '' : String(v) }, icon(v ? 'check' : 'cross'), t(x[1])));
        });
      }
    }
    function press(d) {
      if (working || digits.length >= 12) { return; }
      digits += d;
      say('');
      draw();
    }
    function del() {
      if (working) { return; }
      digits = digits.slice(0, -1);
      draw();
    }
    function submit() {
      if (okKey.disabled) { return; }
      var pin = digits;
      working = true;
      status.appendChild(h('div.spinner', { 'aria-hidden': 'true' }));
      status.appendChild(h('span', { text: t('working') }));
      draw();
      Promise.resolve(o.onSubmit(pin)).then(function (res) {
        pin = '';
        if (!sheet || sheet.id !== id) { return; }
        working = false;
        clear(status);
        digits = '';
        if (res && res.message) { say(res.message); }
        draw();
      }, function (err) {
        pin = '';
        if (!sheet || sheet.id !== id) { return; }
        working = false;
        clear(status);
        digits = '';
        say(function () { return errText(err); });
        draw();
      });
    }
    function cancel() {
      if (working) { return; }
      closeSheet();
      if (o.onCancel) { o.onCancel(); }
    }
    var keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9'].map(function (d) {
      return h('button.key', { type: 'button', 'data-key': d, on: { click: function () { press(d); } } }, d);
    });
    var delKey = h('button.key.fn', { type: 'button', 'data-key': 'del', on: { click: del } }, icon('backspace'));
    keys.push(delKey);
    keys.push(h('button.key', { type: 'button', 'data-key': '0', on: { click: function () { press('0'); } } }, '0'));
    okKey.addEventListener('click', submit);
    keys.push(okKey);
    var forgot = null, help = null, forgotBtn = null;
    if (!o.rules && !o.repeat) {
      help = h('p.pin-help', { id: 'pin-help', 'data-t': 'pin-help', hidden: true });
      forgotBtn = h('button.btn-link.pin-forgot', { type: 'button', 'data-t': 'pin-forgot', 'aria-expanded': 'false', 'aria-controls': 'pin-help', on: { click: function () {
        var open = help.hidden;
        help.hidden = !open;
        forgotBtn.setAttribute('aria-expanded', String(open));
        if (open && help.scrollIntoView) { help.scrollIntoView({ block: 'nearest' }); }
      } } });
      forgot = h('div.pin-forgot-box', forgotBtn, help);
    }
    var titleId = 'sheet-title';
    var title = h('h2', { id: titleId });
    var lead = o.lead ? h('p.muted.sheet-lead') : null;
    var cancelBtn = o.dismissible !== false ? h('button.icon-btn', { type: 'button', 'data-t': 'pin-cancel', on: { click: cancel } }, icon('close')) : null;
    var langBtn = langButton(true, 'pin-lang');
    var el = h('div.sheet-backdrop', { 'data-t': 'pin-sheet' },
      h('div.sheet', { role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId },
        h('div.sheet-grip', { 'aria-hidden': 'true' }),
        // The lead under the head's row, across the whole sheet.
        h('div.sheet-head', h('div.sheet-titles', title), langBtn, cancelBtn), lead,
        dots, rules, msg, status,
        h('div.keypad', keys), forgot));
    // relabel writes every word of the keypad in the language of the
    // moment; what is typed, unfolded or under way stays as it is.
    function relabel() {
      title.textContent = val(o.title);
      if (lead) { lead.textContent = val(o.lead); }
      okKey.textContent = t('pinOk');
      delKey.setAttribute('aria-label', t('pinDelete'));
      if (cancelBtn) { cancelBtn.setAttribute('aria-label', t('pinCancel')); }
      if (forgotBtn) { forgotBtn.textContent = t('pinForgot'); help.textContent = t('pinRecovery'); }
      var w = status.querySelector('span');
      if (w) { w.textContent = t('working'); }
      msg.textContent = val(said);
      labelLang(langBtn);
      // The screen under the keypad was built again: focus goes back to
      // the new copy of the control that opened the keypad.
      var back = sheet && sheet.returnFocus;
      if (back && !document.contains(back) && back.getAttribute && back.getAttribute('data-t')) {
        sheet.returnFocus = document.querySelector('#app [data-t="' + back.getAttribute('data-t') + '"]') || back;
      }
      draw();
    }
    relabel();
    var id = Math.random();
    var returnFocus = document.activeElement;
    sheet = {
      id: id, el: el, returnFocus: returnFocus, relabel: relabel,
      clear: function () { digits = ''; },
      onKey: function (e) {
        if (/^[0-9]$/.test(e.key)) { press(e.key); e.preventDefault(); } else if (e.key === 'Backspace') { del(); e.preventDefault(); } else if (e.key === 'Enter') {
          // Enter on a focused button (a key, Forgot your PIN?, close) presses it.
          if (e.target && e.target.tagName === 'BUTTON') { return; }
          submit(); e.preventDefault();
        } else if (e.key === 'Escape' && o.dismissible !== false) { cancel(); } else if (e.key === 'Tab') { trapFocus(e, el); }
      }
    };
    document.addEventListener('keydown', sheet.onKey, true);
    document.body.appendChild(el);
    document.body.setAttribute('data-sheet', 'pin');
    draw();
    var first = el.querySelector('h2');
    first.setAttribute('tabindex', '-1');
    first.focus();
  }

  function trapFocus(e, container) {
    var f = Array.prototype.filter.call(container.querySelectorAll('button, [tabindex="-1"]'), function (x) { return !x.disabled; });
    if (!f.length) { return; }
    var i = f.indexOf(document.activeElement);
    if (e.shiftKey && i <= 0) { f[f.length - 1].focus(); e.preventDefault(); } else if (!e.shiftKey && i === f.length - 1) { f[0].focus(); e.preventDefault(); }
  }

  // ---------------------------------------------------------------------
  // Home
  // ---------------------------------------------------------------------
  function showHome() {
    var credCount = h('span.muted', { 'data-t': 'cert-count', text: '…' });
    var counted = null; // {n, soon}: a language switch words it again
    function count() {
      if (!counted) { return; }
      credCount.textContent = t('tileCertsSub', { n: counted.n }) + (counted.soon ? ' · ' + t('expChip') : '');
      credCount.classList.toggle('warn-text', !!counted.soon);
    }
    screen('home', function () {
      count();
      return h('div',
        h('header.hero',
          h('div.hero-top', h('div.brand', icon('shield'), h('span', { text: t('appName') })), langButton()),
          h('h1.hello', { 'data-t': 'user-name', text: t('hello', { name: S.device.userName }) }),
          h('p.sub', { text: t('homeSub', { device: S.device.deviceName }) })),
        h('div.section',
          h('button.scan-card', { type: 'button', 'data-t': 'scan', on: { click: function () { showCamera(); } } },
            h('span.scan-icon', icon('scan')),
            h('span', h('strong', { text: t('scanTitle') }), h('span.muted', { text: t('scanSub') })))),
        h('div.section',
          h('div.tiles',
            tile('cert', t('tileCerts'), credCount, showCerts, 'tile-certs'),
            tile('history', t('tileHistory'), h('span.muted', { text: t('tileHistorySub') }), showHistory, 'tile-history'),
            tile('key', t('tilePin'), h('span.muted', { text: t('tilePinSub') }), showChangePIN, 'tile-pin'),
            tile('phone', t('tileDevice'), h('span.muted', { text: t('tileDeviceSub') }), showLost, 'tile-device'))),
        h('p.footer-note', { text: t('footer') }));
    }, { tab: 'home' });
    api('GET', '/v1/me/credentials', undefined, true).then(function (r) {
      counted = { n: (r.credentials || []).filter(function (c) { return c.state === 'active'; }).length,
        soon: (r.credentials || []).filter(expiringSoon).length };
      count();
    }, function (err) {
      if (err.code === 'device_revoked' || err.code === 'unknown_device') { refusal(err); }
    });
  }

  function tile(ic, title, sub, go, hook) {
    return h('button.tile', { type: 'button', 'data-t': hook, on: { click: go } }, h('span.tile-icon', icon(ic)), h('span', h('strong', { text: title }), h('br'), sub));
  }

  // ---------------------------------------------------------------------
  // Camera: getUserMedia, BarcodeDetector where there is one, else jsQR
  // ---------------------------------------------------------------------
  var cam = null;
  function stopCamera() {
    if (!cam) { return; }
    cam.stopped = true;
    clearTimeout(cam.timer);
    if (cam.stream) { cam.stream.getTracks().forEach(function (tr) { tr.stop(); }); }
    cam = null;
  }

  function showCamera() {
    var video, msg, canvas;
    var back = S.device ? showHome : showWelcome;
    screen('scan', function () {
      video = h('video', { playsinline: true, muted: true, autoplay: true, 'aria-hidden': 'true' });
      video.muted = true;
      canvas = h('canvas');
      msg = h('div.cam-msg', { role: 'status', 'aria-live': 'polite', 'data-t': 'camera-message', text: t('cameraStarting') });
      return h('div.camera', { 'data-t': 'camera' },
        video, canvas,
        h('div.frame', { 'aria-hidden': 'true' }, h('span.corner.c1'), h('span.corner.c2'), h('span.corner.c3'), h('span.corner.c4'), h('span.laser')),
        h('div.cam-top', h('button.icon-btn', { type: 'button', 'aria-label': t('close'), 'data-t': 'close', on: { click: back } }, icon('close')),
          h('h1', { text: t('cameraTitle') }), langButton()),
        h('p.cam-hint', { 'data-t': 'camera-hint', text: t('cameraHint') }),
        msg);
    });
    // A language switch opens the camera again (the screen built again
    // has a new video element).
    S.render = showCamera;
    var me = { stopped: false, stream: null, timer: null };
    cam = me;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      msg.textContent = t('cameraNone');
      document.body.setAttribute('data-camera', 'none');
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false }).then(function (stream) {
      if (me.stopped) { stream.getTracks().forEach(function (tr) { tr.stop(); }); return; }
      me.stream = stream;
      video.srcObject = stream;
      return video.play().catch(function () { /* autoplay: muted video plays */ }).then(function () {
        msg.hidden = true;
        document.body.setAttribute('data-camera', 'on');
        return detector();
      }).then(function (detect) { loop(me, video, canvas, detect); });
    }).catch(function (err) {
      if (me.stopped) { return; }
      var denied = err && (err.name === 'NotAllowedError' || err.name === 'SecurityError');
      msg.textContent = denied ? t('cameraDenied') : t('cameraNone');
      msg.hidden = false;
      document.body.setAttribute('data-camera', denied ? 'denied' : 'none');
    });
  }

  // detector returns a function(video, canvas) -> Promise<string|null>.
  function detector() {
    var viaJsQR = function (video, canvas) {
      var w = video.videoWidth, hgt = video.videoHeight;
      if (!w || !hgt || typeof window.jsQR !== 'function') { return Promise.resolve(null); }
      var scale = Math.min(1, 800 / Math.max(w, hgt));
      canvas.width = Math.round(w * scale);
      canvas.height = Math.round(hgt * scale);
      var ctx = canvas.getContext('2d', { willReadFrequently: true });
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      var img = ctx.getImageData(0, 0, canvas.width, canvas.height);
      var code = window.jsQR(img.data, img.width, img.height, { inversionAttempts: 'attemptBoth' });
      return Promise.resolve(code && code.data ? code.data : null);
    };
    if (typeof window.BarcodeDetector !== 'function' || !window.BarcodeDetector.getSupportedFormats) {
      document.body.setAttribute('data-decoder', 'jsqr');
      return Promise.resolve(viaJsQR);
    }
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf('qr_code') < 0) {
        document.body.setAttribute('data-decoder', 'jsqr');
        return viaJsQR;
      }
      document.body.setAttribute('data-decoder', 'barcodedetector');
      var bd = new window.BarcodeDetector({ formats: ['qr_code'] });
      return function (video, canvas) {
        return bd.detect(video).then(function (codes) {
          return codes && codes.length ? codes[0].rawValue : null;
        }, function () { return viaJsQR(video, canvas); });
      };
    }, function () {
      document.body.setAttribute('data-decoder', 'jsqr');
      return viaJsQR;
    });
  }

  function loop(me, video, canvas, detect) {
    if (me.stopped || cam !== me) { return; }
    detect(video, canvas).then(function (text) {
      if (me.stopped || cam !== me) { return; }
      if (text && handleScanned(text)) { return; }
      me.timer = setTimeout(function () { loop(me, video, canvas, detect); }, 120);
    }, function () {
      me.timer = setTimeout(function () { loop(me, video, canvas, detect); }, 250);
    });
  }

  var lastRefused = '';
  // handleScanned acts on a decoded QR code; false keeps scanning.
  function handleScanned(text) {
    var u;
    try { u = new URL(text); } catch (e) { u = null; }
    if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:')) {
      // A bare activation code (20 characters in groups) is accepted too.
      if (!S.device && validCode(text)) { stopCamera(); S.pendingCode = normCode(text); E = {}; showEnrollCode(); return true; }
      if (lastRefused !== text) { lastRefused = text; toast(t('notOurCode')); }
      return false;
    }
    var m = /^(.*)\/(m|q)\/([^/]*)$/.exec(u.pathname);
    if (u.origin !== location.origin || !m || m[1] !== ROOT) {
      if (lastRefused !== text) { lastRefused = text; toast(m ? t('otherGateway', { origin: u.origin }) : t('notOurCode')); }
      return false;
    }
    stopCamera();
    document.body.setAttribute('data-scanned', text);
    if (m[2] === 'q') {
      var payload = u.origin + u.pathname;
      if (S.device) { showSession(payload); } else { S.pendingPayload = payload; showNotEnrolled(); }
      return true;
    }
    var code = /activate=([^&]+)/.exec(u.hash);
    if (code) {
      if (S.device) {
        outcome('already-enrolled', 'info', 'phone', tx('enrolledTitle'), tx('alreadyEnrolled', { name: S.device.userName }));
      } else {
        S.pendingCode = normCode(decodeURIComponent(code[1]));
        E = {};
        showEnrollCode();
      }
      return true;
    }
    showStart();
    return true;
  }

  // ---------------------------------------------------------------------
  // A scanned session: what is asked, the code, the credential, PIN
  // ---------------------------------------------------------------------
  function showNotEnrolled() {
    screen('not-enrolled', function () {
      return h('div',
        brandbar(),
        h('section.outcome',
          h('div.badge.info', icon('phone')),
          h('h1', { text: t('notEnrolledTitle') }),
          h('p', { 'data-t': 'message', text: t('notEnrolledLead') }),
          h('p.small.muted', { text: t('notEnrolledAfter') })));
    }, { actions: function () { return h('div.actions', h('button.btn.btn-primary', { type: 'button', 'data-t': 'activate', on: { click: function () { showEnrollCode(); } } }, t('activate'))); } });
  }

  // A scanned session survives a reload of its tab (a phone browser
  // that reloads a page put in the background, a user who pulls to
  // refresh): the gateway answers a scan once, so the app keeps the
  // scan's answer (no PIN, no key: what the screen shows) in this tab's
  // sessionStorage until the session's screen ends, and shows it again
  // for the same QR URL, by the same device, before the session expires.
  function scanKey(payload) { return 'scan:' + payload; }
  function keptScan(payload) {
    try {
      var k = JSON.parse(sessionStorage.getItem(scanKey(payload)) || 'null');
      if (k && S.device && k.device === S.device.deviceId && k.res && k.res.session &&
          Date.parse(String(k.res.session.expires_at).replace(/(\.\d{3})\d+/, '$1')) > Date.now() + skewMs) { return k.res; }
    } catch (e) { /* no storage: scan as usual */ }
    forgetScan(payload);
    return null;
  }
  function keepScan(payload, res) {
    try { sessionStorage.setItem(scanKey(payload), JSON.stringify({ device: S.device.deviceId, res: res })); } catch (e) { /* too big or no storage */ }
  }
  function forgetScan(payload) {
    try { sessionStorage.removeItem(scanKey(payload)); } catch (e) { /* no storage */ }
  }

  function showSession(payload) {
    loadingScreen('session-loading', tx('reading'));
    // The issuers' names (public) are read first: the credentials show them.
    fetchIssuers().catch(function () { return []; }).then(settlePending).then(function () {
      var kept = keptScan(payload);
      if (kept) { return kept; }
      return api('POST', '/v1/scan', { payload: payload }, true).then(function (res) {
        keepScan(payload, res);
        return res;
      });
    }).then(function (res) {
      showRequest(res, payload);
    }, function (err) { refusal(err); });
  }

  // portalWords is the portal's title and summary, each folded to its
  // first lines (CSS .folded: the title two, the summary four, with an
  // ellipsis) and one "展开全部 / Show all" for both when either is
  // longer: a title of up to 200 bytes or a long summary must not push
  // the matching codes and the buttons far down. What the gateway says
  // (the app, the origin, the kind) is above them and never folded.
  function portalWords(d) {
    var title = d.title ? h('p.display-title.folded', { id: 'display-title', 'data-t': 'display-title', text: d.title }) : null;
    var summary = d.summary ? h('p.display-summary.folded', { id: 'display-summary', 'data-t': 'display-summary', text: d.summary }) : null;
    var folds = [title, summary].filter(Boolean);
    var open = false;
    var more = h('button.btn-link.fold-toggle', { type: 'button', 'data-t': 'display-more', 'aria-controls': folds.map(function (f) { return f.id; }).join(' '), 'aria-expanded': 'false', hidden: true,
      on: { click: function () {
        open = !open;
        folds.forEach(function (f) { f.classList.toggle('folded', !open); });
        more.setAttribute('aria-expanded', String(open));
        more.textContent = open ? t('showLess') : t('showAll');
      } } }, t('showAll'));
    // Measured once laid out: the control shows only when lines are
    // hidden.
    setTimeout(function () {
      if (folds.some(function (f) { return f.isConnected && f.scrollHeight > f.clientHeight + 1; })) { more.hidden = false; }
    });
    return [title, summary, more];
  }

  function showRequest(res, payload) {
    var s = res.session;
    var creds = res.credentials || [];
    var appName = (s.app && s.app.name) || s.origin;
    var seals = res.seals || [];
    var choice = { code: '', cred: creds.length ? creds[0].id : '', certs: [], seal: '' };
    if (s.kind === 'certificate' && creds.length === 1) { choice.certs = [creds[0].id]; }
    // A seal session: the portal's seal, or the only one, is preselected;
    // the credential follows the seal (the seal names its signers).
    var credButtons = [], sealButtons = [];
    function sealCreds(id) {
      var sl = seals.filter(function (x) { return x.id === id; })[0];
      return sl && sl.credentials && sl.credentials.length ? sl.credentials : creds.map(function (c) { return c.id; });
    }
    function pickSeal(id) {
      choice.seal = id;
      var ok = sealCreds(id);
      if (ok.indexOf(choice.cred) < 0) { choice.cred = ok[0] || ''; }
      sealButtons.forEach(function (b) { b.setAttribute('aria-checked', String(b.getAttribute('data-seal') === id)); });
      credButtons.forEach(function (b) {
        var c = b.getAttribute('data-cred');
        b.hidden = ok.indexOf(c) < 0;
        b.setAttribute('aria-checked', String(c === choice.cred));
      });
    }
    if (s.kind === 'seal') {
      var named = s.seal && seals.some(function (x) { return x.id === s.seal; }) ? s.seal : '';
      if (named || seals.length === 1) { pickSeal(named || seals[0].id); } else { choice.cred = ''; }
    }
    var expires = Date.parse(String(s.expires_at).replace(/(\.\d{3})\d+/, '$1'));
    var countdown = h('span.countdown', { 'data-t': 'countdown', role: 'timer' });
    var confirmBtn, codeButtons = [];
    var kind = s.kind || 'login';

    function remaining() { return Math.max(0, Math.ceil((expires - (Date.now() + skewMs)) / 1000)); }
    function paint(r) {
      countdown.textContent = t('timeLeft', { t: fmtRemaining(r) });
      countdown.setAttribute('aria-label', t('timeLeftLabel', { t: fmtRemaining(r) }));
      countdown.setAttribute('data-remaining', String(r));
      countdown.classList.toggle('low', r <= 20);
    }
    function tick() {
      var r = remaining();
      paint(r);
      // A confirm on its way: its answer says how it ended (done, or
      // session_expired), not the phone's clock.
      if (r <= 0 && !isNaN(expires) && !inFlight) {
        clearTimers();
        ended();
        outcome('expired', 'warn', 'clock', tx('expiredTitle'), tx('expiredLead'));
      }
    }

    function refresh() {
      codeButtons.forEach(function (b) { b.setAttribute('aria-checked', String(b.getAttribute('data-code') === choice.code)); b.tabIndex = (b.getAttribute('data-code') === choice.code || (!choice.code && b === codeButtons[0])) ? 0 : -1; });
      if (confirmBtn) { confirmBtn.disabled = acting || !choice.code || (kind === 'certificate' ? !choice.certs.length : !choice.cred) || (kind === 'seal' && !choice.seal); }
      if (rejectBtn) { rejectBtn.disabled = acting; }
    }

    // acting: a reject or hand-over sent (a double tap sends one);
    // inFlight: a confirm sent and not answered.
    var rejectBtn, acting = false, inFlight = false;
    // ended: the session's screen is over; a reload scans again (and is
    // told the QR code was used).
    function ended() { if (payload) { forgetScan(payload); } }
    // unsure: the request may or may not have reached the gateway.
    function unsure(lead) {
      clearTimers();
      closeSheet();
      ended();
      outcome('unsure', 'warn', 'alert', tx('unsureTitle'), lead, function () {
        return [h('button.btn.btn-secondary', { type: 'button', 'data-t': 'unsure-history', on: { click: showHistory } }, t('unsureHistory')),
          h('button.btn.btn-primary', { type: 'button', 'data-t': 'done', on: { click: showStart } }, t('home'))];
      });
    }
    function refused(err) {
      ended();
      if (err && err.code === 'network') { unsure(tx('unsureLead')); } else { refusal(err); }
    }
    screen('session', function () {
      // Built again on a language switch (screen stops the timers): the
      // countdown starts here, and the kept action bar's labels follow.
      S.timers.push(setInterval(tick, 1000));
      paint(remaining()); // in the language just chosen, at once
      if (confirmBtn) {
        confirmBtn.textContent = t('confirm');
        rejectBtn.textContent = t('reject');
      }
      var parts = [];
      parts.push(h('div.card', { 'data-t': 'request' },
        h('div.req-head', h('span.op-badge', icon(kind === 'login' ? 'login' : kind === 'decrypt' ? 'unlock' : kind === 'certificate' ? 'cert' : kind === 'seal' ? 'seal' : 'sign'), h('span', { 'data-t': 'kind', text: t('kind_' + kind) })), countdown),
        h('h1.app-name', { 'data-t': 'app-name', text: appName }),
        h('p.muted', { text: t('kindLead_' + kind) }),
        h('dl.kv',
          h('dt', { text: t('from') }), h('dd', h('span.origin', { 'data-t': 'origin' }, icon(/^https:/.test(s.origin) ? 'lock' : 'globe'), s.origin)),
          h('dt', { text: t('computer') }), h('dd', { 'data-t': 'desktop', text: t('computerValue', { browser: browserOf(s.desktop && s.desktop.user_agent), ip: (s.desktop && s.desktop.ip) || '—' }) }))));
      // The matching code: three choices, one is on the computer's screen.
      // Right under the computer it names, before the portal's words and
      // the documents: the anti-phishing check is on the first screen of
      // a 320×640 phone, however long the title or the documents list.
      // Built again on a language switch: a code already picked stays so.
      codeButtons = (s.code_choices || []).map(function (c, i) {
        return h('button.code-choice', { type: 'button', role: 'radio', 'aria-checked': String(c === choice.code),
          tabindex: (choice.code ? c === choice.code : i === 0) ? '0' : '-1', 'aria-label': t('codeOption', { code: c.split('').join(' ') }), 'data-code': c, 'data-t': 'code-choice',
          on: { click: function () { choice.code = c; refresh(); } } }, c);
      });
      var group = h('div.code-choices', { role: 'radiogroup', 'aria-labelledby': 'code-label' }, codeButtons);
      group.addEventListener('keydown', function (e) {
        var i = codeButtons.indexOf(document.activeElement);
        if (i < 0) { return; }
        var d = e.key === 'ArrowRight' || e.key === 'ArrowDown' ? 1 : e.key === 'ArrowLeft' || e.key === 'ArrowUp' ? -1 : 0;
        if (!d) { return; }
        e.preventDefault();
        var n = codeButtons[(i + d + codeButtons.length) % codeButtons.length];
        choice.code = n.getAttribute('data-code');
        refresh();
        n.focus();
      });
      parts.push(h('h2.section-title', { id: 'code-label', text: t('pickCode') }));
      parts.push(h('div.card', group));
      // The portal's own words, marked as such: a title that reads like
      // the app's (已验证, an amount, another portal's name) is not the
      // gateway's say-so. The registered name and the checked origin
      // above are.
      if (s.display && (s.display.title || s.display.summary)) {
        parts.push(h('h2.section-title', { id: 'display-label', 'data-t': 'display-label', text: t('displayLabel') }));
        parts.push(h('div.card.portal-words', { 'data-t': 'display', role: 'group', 'aria-labelledby': 'display-label' },
          h('p.muted.small.portal-note', { 'data-t': 'display-note', text: t('displayNote') }),
          portalWords(s.display)));
      }
      if (s.documents && s.documents.length) {
        parts.push(h('h2.section-title', { text: t(kind === 'seal' ? 'documents_seal' : 'documents') }));
        parts.push(h('div.card', { 'data-t': 'documents' }, s.documents.map(function (d) {
          return h('div.doc', { 'data-t': 'document' },
            h('span.doc-icon', icon('doc')),
            h('div.row-main',
              h('div.doc-name', { text: d.name }),
              h('div.muted.small', { text: (d.pages ? t(d.pages === 1 ? 'pagesOne' : 'pagesN', { n: d.pages }) + ' · ' : '') + (d.size !== undefined && d.size !== null ? fmtSize(d.size) + ' · ' : '') + (d.digest_alg === 'sm3' ? t('digest') : t('givenDigest')) + ' ' + shortDigest(d.digest) }),
              kind === 'seal' ? placements(d) : null,
              h('details.digest', h('summary', { text: d.digest_alg === 'sm3' ? t('digest') : t('givenDigest') }), h('p.mono', { text: groupDigest(d.digest) }))));
        })));
      }
      // What the gateway itself read in each PDF: its own heading, apart
      // from the portal's words above.
      if (kind === 'seal' && (s.documents || []).some(function (d) { return d.file_text; })) {
        parts.push(h('h2.section-title', { id: 'file-text-label', 'data-t': 'file-text-label' }, icon('doc'), h('span', { text: t('fileTextLabel') })));
        parts.push(fileText(s.documents));
      }
      if (s.ciphertext) {
        parts.push(h('h2.section-title', { text: t('ciphertext') }));
        parts.push(h('div.card', { 'data-t': 'ciphertext' },
          h('div.doc', h('span.doc-icon', icon('lock')), h('div.row-main',
            h('div.doc-name', { text: t('ciphertextValue', { format: String(s.ciphertext.format || '').toUpperCase(), size: fmtSize(s.ciphertext.size || 0) }) }),
            h('div.muted.small', { text: 'SM3 ' + shortDigest(s.ciphertext.sm3 || '') })))));
      }
      // The seal: the portal's (or the only one), or a choice.
      if (kind === 'seal' && seals.length) {
        if (seals.length === 1 && choice.seal) {
          sealButtons = [];
          parts.push(h('h2.section-title', { text: t('useSeal') }));
          parts.push(h('div.card', { 'data-t': 'seal', 'data-seal': seals[0].id, 'data-kind': seals[0].kind }, h('div.seal-row', sealLine(seals[0]))));
        } else {
          sealButtons = seals.map(function (sl) {
            return h('button.cred-option.seal-option', { type: 'button', role: 'radio', 'aria-checked': String(sl.id === choice.seal), 'data-seal': sl.id, 'data-kind': sl.kind, 'data-t': 'seal-choice',
              on: { click: function () { pickSeal(sl.id); refresh(); } } }, h('span.radio-dot'), sealLine(sl));
          });
          parts.push(h('h2.section-title', { id: 'seal-label', text: t('chooseSeal') }));
          parts.push(h('div', { role: 'radiogroup', 'aria-labelledby': 'seal-label', 'data-t': 'seal-choices' }, sealButtons));
        }
      }
      // The credential (a certificate session: the certificates, any number).
      if (kind === 'certificate' && creds.length) {
        var certButtons = creds.map(function (c) {
          return h('button.cred-option', { type: 'button', role: 'checkbox', 'aria-checked': String(choice.certs.indexOf(c.id) >= 0), 'data-cred': c.id, 'data-purpose': c.purpose, 'data-issuer': c.issuer, 'data-t': 'cert-choice',
            on: { click: function (e) {
              var i = choice.certs.indexOf(c.id);
              if (i >= 0) { choice.certs.splice(i, 1); } else { choice.certs.push(c.id); }
              e.currentTarget.setAttribute('aria-checked', String(i < 0));
              refresh();
            } } }, h('span.check-box', icon('check')), credLine(c));
        });
        parts.push(h('h2.section-title', { id: 'cert-label', text: t('chooseCerts') }));
        parts.push(h('div', { role: 'group', 'aria-labelledby': 'cert-label', 'data-t': 'cert-choices' }, certButtons));
        parts.push(h('p.muted.small', { 'data-t': 'no-pin-note', text: t('certsNoPin') }));
      } else if (kind === 'seal' && !seals.length) {
        parts.push(h('div.section-title'));
        parts.push(h('div.notice.warn', { role: 'alert', 'data-t': 'no-seal', text: creds.length ? t('noSeal') : t('noCred') }));
      } else if (!creds.length) {
        parts.push(h('div.section-title'));
        parts.push(h('div.notice.warn', { role: 'alert', 'data-t': 'no-credential', text: t('noCred') }));
      } else if (creds.length === 1) {
        parts.push(h('h2.section-title', { text: t('useCred') }));
        parts.push(h('div.card', { 'data-t': 'credential' }, credLine(creds[0])));
      } else {
        var fit = kind === 'seal' && choice.seal ? sealCreds(choice.seal) : null;
        credButtons = creds.map(function (c) {
          return h('button.cred-option', { type: 'button', role: 'radio', 'aria-checked': String(c.id === choice.cred), 'data-cred': c.id, 'data-alg': c.alg, 'data-issuer': c.issuer, 'data-t': 'cred-choice',
            hidden: fit && fit.indexOf(c.id) < 0,
            on: { click: function () {
              choice.cred = c.id;
              credButtons.forEach(function (b) { b.setAttribute('aria-checked', String(b.getAttribute('data-cred') === c.id)); });
              refresh();
            } } }, h('span.radio-dot'), credLine(c));
        });
        parts.push(h('h2.section-title', { id: 'cred-label', text: t('chooseCred') }));
        parts.push(h('div', { role: 'radiogroup', 'aria-labelledby': 'cred-label' }, credButtons));
      }
      return h('div', brandbar(), h('div.section', parts));
    }, {
      actions: h('div.actions',
        rejectBtn = h('button.btn.btn-secondary', { type: 'button', 'data-t': 'reject', on: { click: reject } }, t('reject')),
        confirmBtn = h('button.btn.btn-primary', { type: 'button', 'data-t': 'confirm', disabled: true, on: { click: confirm } }, t('confirm')))
    });
    refresh();
    tick();
    document.body.setAttribute('data-session', s.id);
    if (CO && creds.some(CO.isCosign)) { CO.preload(); }

    function reject() {
      if (acting) { return; }
      acting = true;
      refresh();
      api('POST', '/v1/sessions/' + encodeURIComponent(s.id) + '/reject', {}, true).then(function () {
        ended();
        outcome('rejected', 'info', 'cross', tx('rejectedTitle'), tx('rejectedLead'));
      }, function (err) {
        if (err.code === 'network') { unsure(tx('unsureReject')); } else { ended(); refusal(err); }
      });
    }

    function confirm() {
      if (kind === 'certificate') { handOver(); return; }
      if (acting || !choice.code || !choice.cred) { return; }
      var chosen = creds.filter(function (c) { return c.id === choice.cred; })[0];
      pinSheet({
        title: tx('pinTitle'), lead: function () { return t('pinFor_' + kind, { app: appName }) + (chosen && chosen.on_behalf_of ? ' · ' + t('pinOwnFor', { org: chosen.organization_name || chosen.on_behalf_of }) : ''); }, dismissible: true,
        onSubmit: function (pin) {
          var body = { credential: choice.cred, pin: pin, code: choice.code };
          if (kind === 'seal') { body.seal = choice.seal; }
          pin = '';
          var cosign = CO && CO.isCosign(creds.filter(function (c) { return c.id === choice.cred; })[0]);
          inFlight = true;
          var req = cosign ? CO.confirm(s.id, body) : api('POST', '/v1/sessions/' + encodeURIComponent(s.id) + '/confirm', body, true);
          body.pin = '';
          return req.then(function () {
            inFlight = false;
            clearTimers();
            closeSheet();
            ended();
            outcome('done', 'ok', 'check', tx('doneTitle_' + kind), tx('doneLead', { app: appName }));
          }, function (err) {
            inFlight = false;
            // A confirm whose answer was lost may have been done: say so,
            // not "try again".
            if (err.code === 'network') { unsure(tx('unsureLead')); return null; }
            if (err.code !== 'wrong_pin' || remaining() <= 0) { ended(); }
            return pinError(err, remaining() > 0);
          });
        }
      });
    }

    // A certificate session: no key, no PIN; the request is device-signed.
    function handOver() {
      if (acting || !choice.code || !choice.certs.length) { return; }
      acting = true;
      refresh();
      api('POST', '/v1/sessions/' + encodeURIComponent(s.id) + '/confirm', { credentials: choice.certs.slice(), code: choice.code }, true).then(function () {
        clearTimers();
        ended();
        outcome('done', 'ok', 'check', tx('doneTitle_' + kind), tx('doneLead', { app: appName }));
      }, refused);
    }
  }

  // sealLine: a seal's image (the PNG the scan answer carries, as a data:
  // URL: the CSP allows img-src data:), its name, kind and printed size.
  function sealLine(sl) {
    return [h('img.seal-img', { src: 'data:image/png;base64,' + sl.image_png, alt: t('sealImage', { name: sl.name }), 'data-t': 'seal-img' }),
      h('span.row-main',
        h('span.row-title', { text: sl.name }),
        h('span.row-sub', { text: (TEXT[LANG]['sealKind_' + sl.kind] ? t('sealKind_' + sl.kind) : sl.kind) + ' · ' + t('sealSize', { w: fmtMM(sl.width_mm), h: fmtMM(sl.height_mm) }) }))];
  }
  function fmtMM(v) { return String(Math.round((+v || 0) * 10) / 10); }

  // placements lists where a seal session's seal goes on document d.
  function placements(d) {
    var items = (d.placements || []).map(function (p) {
      return h('li', { 'data-t': 'placement', text: p.keyword ? t('placeKeyword', { k: p.keyword }) : t('placeAt', { page: p.page, x: fmtMM(p.x_mm), y: fmtMM(p.y_mm) }) });
    });
    if (d.straddle) {
      items.push(h('li', { 'data-t': 'straddle', text: t('straddleAt', { from: d.straddle.first_page || 1, to: d.straddle.last_page || d.pages || '?', y: fmtMM(d.straddle.y_mm) }) }));
    }
    if (!items.length) { return null; }
    return h('div', h('ul.placements', { 'data-t': 'placements' }, items), h('p.muted.small', { text: t('placeNote') }));
  }

  // fileText shows what the gateway read in a seal session's PDFs
  // (file_text): per document its page count, the first lines of page 1
  // and, for each place the seal lands, the text nearest to it (the
  // nearest line marked; a line an annotation draws, such as a stamp,
  // marked as one). Nothing is folded: every spot's text shows.
  function fileText(docs) {
    var hiddenSeen = false, annotSeen = false;
    // ftLine: one line; the gateway's [U+XXXX] markers stand out.
    function ftLine(text, near, annot) {
      var bits = String(text).split(/(\[U\+[0-9A-F]{4,6}\])/);
      if (annot) { annotSeen = true; }
      return h('p.ft-line' + (near ? '.ft-near' : ''), { 'data-t': near ? 'ft-near' : 'ft-line', 'data-annot': annot ? '1' : null },
        annot ? h('span.chip.ft-annot', { 'data-t': 'ft-annot', text: t('ftAnnot') }) : null,
        bits.map(function (b, i) {
          if (i % 2) { hiddenSeen = true; return h('span.ft-hidden', { text: b }); }
          return b;
        }));
    }
    // lines: annots are the indexes of the lines an annotation draws.
    function lines(list, nearest, annots) {
      return h('div.ft-lines', (list || []).map(function (l, i) { return ftLine(l, i === nearest, (annots || []).indexOf(i) >= 0); }));
    }
    // sketch: the gateway's drawing of a page, folded (an SVG document
    // as a data: image, which runs nothing).
    function sketch(sk) {
      return h('details.ft-sketch', { 'data-t': 'ft-sketch', 'data-page': sk.page },
        h('summary', { text: t('ftSketch', { page: sk.page }) }),
        h('img.ft-sketch-img', { src: 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(sk.svg), alt: t('ftSketchAlt', { page: sk.page }), 'data-t': 'ft-sketch-img' }),
        h('p.muted.small', { text: t('ftSketchNote') }));
    }
    var blocks = docs.filter(function (d) { return d.file_text; }).map(function (d) {
      var ft = d.file_text;
      var sketched = {};
      var spots = (ft.spots || []).map(function (sp, i) {
        var pl = (d.placements || [])[sp.placement] || {};
        var head = pl.keyword ? t('ftSpotKeyword', { n: i + 1, page: sp.page || '?', k: pl.keyword }) : t('ftSpotAt', { n: i + 1, page: sp.page, x: fmtMM(sp.x_mm), y: fmtMM(sp.y_mm) });
        var body;
        if (sp.not_found) {
          head = t('ftSpotMissing', { n: i + 1, k: pl.keyword || '' });
          body = h('p.ft-warn', { 'data-t': 'ft-not-found', role: 'alert', text: t('ftNotFound', { k: pl.keyword || '' }) });
        } else if (sp.no_text || !(sp.lines || []).length) {
          body = h('p.ft-none', { 'data-t': 'ft-no-text', text: t('ftNoText') });
        } else {
          body = [sp.distance_mm > 10 ? h('p.muted.small.ft-far', { 'data-t': 'ft-far', text: t('ftFar', { d: Math.round(sp.distance_mm) }) }) : null, lines(sp.lines, sp.nearest, sp.annotations)];
        }
        // The page's sketch, under the first spot on it.
        var sk = (d.sketches || []).filter(function (x) { return x.page === sp.page && !sketched[x.page]; })[0];
        if (sk) { sketched[sk.page] = true; }
        return h('div.ft-spot', { 'data-t': 'ft-spot', 'data-page': sp.page || 0 }, h('p.ft-head', { text: head }), body, sk ? sketch(sk) : null);
      });
      return h('div.ft-doc', { 'data-t': 'ft-doc' },
        h('div.doc-name', { text: d.name }),
        h('div.muted.small', { text: t(ft.pages === 1 ? 'pagesOne' : 'pagesN', { n: ft.pages }) + ' · ' + t(ft.seals === 1 ? 'ftSealsOne' : 'ftSealsN', { n: ft.seals }) + (d.straddle ? ' · ' + t('ftPlusStraddle') : '') }),
        ft.viewer_forms ? h('p.ft-warn', { 'data-t': 'ft-viewer-forms', role: 'alert', text: t('ftViewerForms') }) : null,
        h('div.ft-spot', { 'data-t': 'ft-first' }, h('p.ft-head', { text: t('ftFirst') }),
          ft.first && ft.first.no_text ? h('p.ft-none', { 'data-t': 'ft-no-text', text: t('ftNoText') }) : lines(ft.first && ft.first.lines, -1, ft.first && ft.first.annotations)),
        spots,
        ft.spots_left_out ? h('p.muted.small', { 'data-t': 'ft-left-out', text: t('ftLeftOut', { n: ft.spots_left_out }) }) : null);
    });
    return h('div.card.gateway-read', { 'data-t': 'file-text', role: 'group', 'aria-labelledby': 'file-text-label' },
      h('p.muted.small.ft-note', { 'data-t': 'file-text-note', text: t('fileTextNote') }),
      blocks,
      annotSeen ? h('p.muted.small', { 'data-t': 'ft-annot-note', text: t('ftAnnotNote') }) : null,
      hiddenSeen ? h('p.muted.small', { 'data-t': 'ft-hidden-note', text: t('ftHidden') }) : null);
  }

  // credLine: a credential in a session's chooser. Chips above the
  // issuer: whose it is (a delegation's organisation) and whether it is a
  // renewed (superseded) one, which still decrypts what was made for it.
  function credLine(c) {
    var chips = [
      c.on_behalf_of ? h('span.chip.org', { 'data-t': 'on-behalf', 'data-org': c.on_behalf_of, text: t('forOrg', { org: c.organization_name || c.on_behalf_of }) }) : null,
      c.state === 'superseded' ? h('span.chip.grey', { 'data-t': 'renewed', text: t('state_superseded') }) : null,
      // A CMS envelope names this certificate as a recipient.
      c.addressed ? h('span.chip.ok', { 'data-t': 'sealed-to', text: t('sealedTo') }) : null
    ].filter(Boolean);
    return h('span.row-main',
      chips.length ? h('span.row-chips', chips) : null,
      h('span.row-title', { text: issuerName(c.issuer) }),
      h('span.row-sub', { text: c.alg + (CO && CO.isCosign(c) ? ' ' + t('cosignChip') : '') + ' · ' + t('purpose_' + c.purpose) + (c.not_after ? ' · ' + fmtDate(new Date(c.not_after)) : '') }));
  }

  // ---------------------------------------------------------------------
  // Certificates
  // ---------------------------------------------------------------------
  function showCerts() {
    var list = h('div', { 'data-t': 'cert-list' }, h('div.boot', h('div.spinner', { 'aria-hidden': 'true' })));
    // The answers, kept: a language switch draws them again.
    var creds = null, dels = [];
    screen('certs', function () {
      fill();
      return h('div', topbar(t('myCerts')), h('div.section', list));
    }, {
      tab: 'certs',
      actions: null
    });
    Promise.all([fetchIssuers(), api('GET', '/v1/me/credentials', undefined, true)]).then(function (r) {
      creds = r[1].credentials || [];
      fill();
      return api('GET', '/v1/me/delegations', undefined, true).then(function (r) {
        dels = r.delegations || [];
        fill();
      });
    }, function (err) { refusal(err); });

    function fill() {
      if (!creds) { return; }
      clear(list);
      var banner = expiryBanner(creds);
      if (banner) { list.appendChild(banner); }
      // What the user can use first: active, then waiting to be issued,
      // then renewed (superseded: still decrypts what was made for it),
      // then the ended ones (revoked, expired); the gateway's order within.
      var shown = creds.map(function (c, i) { return { c: c, i: i }; }).sort(function (a, b) {
        return credRank(a.c.state) - credRank(b.c.state) || a.i - b.i;
      }).map(function (x) { return x.c; });
      if (!shown.length) {
        list.appendChild(h('div.empty', icon('cert'), h('p', { text: t('certsEmpty') })));
      }
      shown.forEach(function (c) {
        var st = c.state === 'active' && c.not_after && Date.parse(c.not_after) < Date.now() ? 'expired' : c.state;
        var chipCls = st === 'active' ? '.ok' : st === 'pending' ? '.warn' : st === 'superseded' ? '.grey' : '.bad';
        list.appendChild(h('div.card' + (st === 'superseded' ? '.card-old' : ''), { 'data-t': 'cert', 'data-state': st, 'data-purpose': c.purpose, 'data-alg': c.alg, 'data-cred': c.id },
          h('div.req-head', h('h2', { text: issuerName(c.issuer) }), h('span.chips-end',
            expiringSoon(c) ? h('span.chip.warn', { 'data-t': 'expiring-chip', text: t('expChip') }) : null,
            h('span.chip' + chipCls, { text: t('state_' + st) }))),
          h('div.chips', h('span.chip', { text: c.alg + (c.rsa_bits ? ' ' + c.rsa_bits : '') }), h('span.chip.grey', { text: t('purpose_' + c.purpose) }),
            CO && CO.isCosign(c) ? h('span.chip', { 'data-t': 'cosign-chip', text: t('cosignChip') }) : null),
          h('dl.kv',
            c.not_after ? [h('dt', { text: t('validity') }), h('dd', { text: t('validTo', { from: fmtDate(new Date(c.not_before)), to: fmtDate(new Date(c.not_after)) }) })] : null,
            c.serial ? [h('dt', { text: t('serial') }), h('dd.mono', { text: c.serial })] : null,
            st === 'pending' ? [h('dt', { text: t('state') }), h('dd', { text: t('pendingNote') })] : null)));
      });
      list.appendChild(h('div.section-title'));
      list.appendChild(h('button.btn.btn-primary', { type: 'button', 'data-t': 'request-new', on: { click: showRequestCert } }, t('requestNew')));
      if (!dels.length) { return; }
      list.appendChild(h('h2.section-title', { text: t('delegations') }));
      list.appendChild(h('p.muted.small', { text: t('delegationsLead') }));
      dels.forEach(function (d) { list.appendChild(delegationCard(d)); });
    }
  }

  // delegationCard: a delegation as this phone's user sees it (granted to
  // them, or of their organisation's certificate), with the step that is
  // theirs to take: accept (the staff member, own PIN) or approve (the
  // organisation, its PIN).
  function delegationCard(d) {
    var me = S.device && S.device.userId;
    var toMe = d.user === me;
    var org = d.organization_name || d.organization;
    var st = d.state;
    var chipCls = st === 'active' ? '.ok' : /^pending/.test(st) ? '.warn' : '.bad';
    var step = toMe && st === 'pending_acceptance' ? 'accept' : !toMe && st === 'pending_approval' ? 'approve' : '';
    var btn = step ? h('button.btn.btn-primary', { type: 'button', 'data-t': 'delegation-' + step, on: { click: function () {
      pinSheet({
        title: tx('pinTitle'), dismissible: true,
        lead: step === 'accept' ? tx('dlgAcceptLead', { org: org }) : tx('dlgApproveLead', { user: d.user_name || d.user }),
        onSubmit: function (pin) {
          var req = api('POST', '/v1/me/delegations/' + encodeURIComponent(d.id) + '/' + step, { pin: pin }, true);
          pin = '';
          return req.then(function () { closeSheet(); showCerts(); }, function (err) { return pinError(err, true); });
        }
      });
    } } }, t(step === 'accept' ? 'dlgAccept' : 'dlgApprove')) : null;
    return h('div.card', { 'data-t': 'delegation', 'data-state': st, 'data-delegation': d.id },
      h('div.req-head', h('h2', { text: toMe ? t('dlgToMe', { org: org }) : t('dlgFromOrg', { user: d.user_name || d.user }) }),
        h('span.chip' + chipCls, { 'data-t': 'delegation-state', text: t('dlgState_' + st) })),
      h('div.chips', toMe ? h('span.chip.org', { text: t('forOrg', { org: org }) }) : null,
        h('span.chip.grey', { text: t('dlgKinds') + ' ' + (d.kinds && d.kinds.length ? d.kinds.map(function (k) { return t('dlgKind_' + k); }).join(t('dlgKindSep')) : t('dlgAllKinds')) })),
      h('p.muted.small', { text: t('dlgUntil', { date: fmtDate(new Date(d.not_after)) }) }),
      // The organisation's renewed encryption certificates whose keys this
      // delegation keeps (superseded_credentials).
      (d.superseded_credentials || []).length && st !== 'revoked' ? h('p.muted.small', { 'data-t': 'delegation-superseded',
        text: d.superseded_credentials.length === 1 ? t('dlgSupersededOne') : t('dlgSupersededN', { n: d.superseded_credentials.length }) }) : null,
      btn);
  }

  function showRequestCert() {
    fetchIssuers().then(function (issuers) {
      var keep = {};
      screen('request-cert', function () {
        return h('div', topbar(t('requestNew'), showCerts), h('div.section', certRequestForm(issuers, false, keep)));
      }, {});
    }, function (err) { refusal(err); });
  }

  // ---------------------------------------------------------------------
  // History (GET /v1/me/history)
  // ---------------------------------------------------------------------
  function showHistory() {
    var list = h('div', { 'data-t': 'history-list' }, h('div.boot', h('div.spinner', { 'aria-hidden': 'true' })));
    // The answer, kept: a language switch draws it again.
    var entries = null;
    screen('history', function () {
      fill();
      return h('div', topbar(t('history')), h('div.section', list));
    }, { tab: 'history' });
    // The delegations give the names of the organisations and staff
    // members that delegated uses name by id.
    var names = {};
    fetchIssuers().catch(function () { return []; }).then(function () {
      return api('GET', '/v1/me/delegations', undefined, true).then(function (r) {
        (r.delegations || []).forEach(function (d) {
          names[d.organization] = d.organization_name || d.organization;
          names[d.user] = d.user_name || d.user;
        });
      }, function () {});
    }).then(function () {
      return api('GET', '/v1/me/history?limit=100', undefined, true);
    }).then(function (r) {
      entries = r.entries || [];
      fill();
    }, function (err) { refusal(err); });

    function fill() {
      if (!entries) { return; }
      clear(list);
      if (!entries.length) {
        list.appendChild(h('div.empty', icon('history'), h('p', { text: t('historyEmpty') })));
        return;
      }
      var day = '', ul = null;
      var today = fmtDate(new Date()), yesterday = fmtDate(new Date(Date.now() - 864e5));
      entries.forEach(function (e) {
        var when = new Date(e.time);
        var d = fmtDate(when);
        if (d !== day) {
          day = d;
          list.appendChild(h('h2.day', { text: d === today ? t('today') : d === yesterday ? t('yesterday') : d }));
          ul = h('ul.list');
          list.appendChild(ul);
        }
        var ok = e.outcome === 'ok';
        var what = t('act_' + e.action);
        var who = e.app && e.app.name ? e.app.name : (e.issuer ? issuerName(e.issuer) : '');
        var reason = !ok && e.reason ? (TEXT[LANG]['reason_' + e.reason] ? t('reason_' + e.reason) : e.reason) : '';
        var me = S.device && S.device.userId;
        var party = !e.on_behalf_of ? '' : e.on_behalf_of === me ? t('byStaff', { user: names[e.delegate] || e.delegate }) : t('forOrg', { org: names[e.on_behalf_of] || e.on_behalf_of });
        var sub = [who, party, fmtTime(when), reason].filter(function (x) { return x; }).join(' · ');
        ul.appendChild(h('li', { 'data-t': 'history-entry', 'data-action': e.action, 'data-outcome': e.outcome },
          h('div.row',
            h('span.row-icon', icon(e.action === 'login' ? 'login' : e.action === 'decrypt' ? 'unlock' : e.action === 'sign' ? 'sign' : e.action === 'seal' ? 'seal' : e.action === 'pin.change' ? 'key' : e.action === 'device.enroll' ? 'phone' : 'cert')),
            h('span.row-main', h('span.row-title', { text: what }), h('span.row-sub', { text: sub })),
            h('span.chip' + (ok ? '.ok' : '.bad'), { text: t('outcome_' + (ok ? 'ok' : 'failed')) }))));
      });
    }
  }

  // ---------------------------------------------------------------------
  // Me: this device, language, PIN, lost phone
  // ---------------------------------------------------------------------
  function showMe() {
    screen('me', function () {
      var d = S.device;
      return h('div', topbar(t('me')),
        h('div.section',
          h('div.card', h('div.profile', h('span.avatar', { 'aria-hidden': 'true', text: (d.userName || '?').slice(0, 1) }),
            h('div', h('strong', { text: d.userName }), h('span.muted.small', { text: t('userId') + ' ' + d.userId })))),
          h('h2.section-title', { text: t('thisDevice') }),
          h('div.card', h('dl.kv', { 'data-t': 'device' },
            h('dt', { text: t('deviceName') }), h('dd', { text: d.deviceName }),
            h('dt', { text: t('deviceId') }), h('dd.mono', { 'data-t': 'device-id', text: d.deviceId }),
            h('dt', { text: t('deviceKey') }), h('dd', { text: t('deviceKeyValue') }),
            h('dt', { text: t('enrolledAt') }), h('dd', { text: fmtTime(new Date(d.enrolledAt), true) }))),
          h('div.section-title'),
          h('ul.list',
            h('li', h('button.row', { type: 'button', 'data-t': 'change-pin', on: { click: showChangePIN } }, h('span.row-icon', icon('key')), h('span.row-main', h('span.row-title', { text: t('changePin') })), icon('chev', 'chev'))),
            h('li', h('button.row', { type: 'button', 'data-t': 'signature', on: { click: showSignature } }, h('span.row-icon', icon('sign')), h('span.row-main', h('span.row-title', { text: t('signRow') })), icon('chev', 'chev'))),
            h('li', h('button.row', { type: 'button', 'data-t': 'lost', on: { click: showLost } }, h('span.row-icon', icon('help')), h('span.row-main', h('span.row-title', { text: t('lost') })), icon('chev', 'chev'))),
            h('li', h('button.row', { type: 'button', 'data-t': 'correction', on: { click: showCorrection } }, h('span.row-icon', icon('user')), h('span.row-main', h('span.row-title', { text: t('corrRow') }), h('span.row-sub', { text: t('corrRowSub') })), icon('chev', 'chev'))),
            h('li', h('button.row', { type: 'button', 'data-t': 'my-data', on: { click: showMyData } }, h('span.row-icon', icon('doc')), h('span.row-main', h('span.row-title', { text: t('myData') }), h('span.row-sub', { text: t('myDataSub') })), icon('chev', 'chev'))),
            h('li', h('button.row.row-danger', { type: 'button', 'data-t': 'delete-account', on: { click: showDeleteAccount } }, h('span.row-icon', icon('alert')), h('span.row-main', h('span.row-title', { text: t('deleteAccount') }), h('span.row-sub', { text: t('deleteAccountSub') })), icon('chev', 'chev'))))),
        h('p.footer-note', { text: t('footer') }));
    }, { tab: 'me' });
  }

  // ---------------------------------------------------------------------
  // Hand-drawn signature: strokes drawn with a finger (pointer events) on
  // a canvas, undone or cleared, then trimmed to their bounding box and
  // posted as a transparent PNG (POST /v1/me/seals), where the issuer
  // makes it a personal seal if the operator allows it.
  // ---------------------------------------------------------------------
  var INK = '#16213e';
  var INK_WIDTH = 3.2; // CSS pixels

  function drawStrokes(ctx, strokes, scale, dx, dy) {
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.strokeStyle = INK;
    ctx.fillStyle = INK;
    ctx.lineWidth = INK_WIDTH * scale;
    strokes.forEach(function (st) {
      var x = function (i) { return (st[i][0] - dx) * scale; };
      var y = function (i) { return (st[i][1] - dy) * scale; };
      if (st.length === 1) {
        ctx.beginPath();
        ctx.arc(x(0), y(0), ctx.lineWidth / 2, 0, 2 * Math.PI);
        ctx.fill();
        return;
      }
      // Smooth: quadratic curves through the midpoints.
      ctx.beginPath();
      ctx.moveTo(x(0), y(0));
      for (var i = 1; i < st.length - 1; i++) {
        ctx.quadraticCurveTo(x(i), y(i), (x(i) + x(i + 1)) / 2, (y(i) + y(i + 1)) / 2);
      }
      ctx.lineTo(x(st.length - 1), y(st.length - 1));
      ctx.stroke();
    });
  }

  // trimmedPNG renders the strokes, cut to their bounding box with a small
  // margin, at 2× on a transparent background.
  function trimmedPNG(strokes) {
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    strokes.forEach(function (st) {
      st.forEach(function (p) {
        x0 = Math.min(x0, p[0]); y0 = Math.min(y0, p[1]); x1 = Math.max(x1, p[0]); y1 = Math.max(y1, p[1]);
      });
    });
    var m = INK_WIDTH * 2;
    x0 -= m; y0 -= m; x1 += m; y1 += m;
    var scale = Math.min(2, 1600 / Math.max(x1 - x0, y1 - y0));
    var c = document.createElement('canvas');
    c.width = Math.max(16, Math.ceil((x1 - x0) * scale));
    c.height = Math.max(16, Math.ceil((y1 - y0) * scale));
    drawStrokes(c.getContext('2d'), strokes, scale, x0, y0);
    return new Promise(function (resolve, reject) {
      c.toBlob(function (b) { b ? resolve(b) : reject(new Error('toBlob')); }, 'image/png');
    }).then(function (b) { return b.arrayBuffer(); });
  }

  // showSignature offers the pad only where the operator allows drawn
  // signatures (the certificates list says so: drawn_signatures) and to
  // a user who holds an active signing certificate (what POST
  // /v1/me/seals binds the drawing to, as the certificates list shows
  // it); otherwise it says why not, before anything is drawn, and leads
  // back to Me or to the certificates page. The gateway's 403
  // drawn_seal_disabled and 409 no_signing_credential stay the backstop
  // (the policy changed, or a certificate revoked, while drawing).
  function showSignature() {
    loadingScreen('signature-loading', tx('loading'));
    api('GET', '/v1/me/credentials', undefined, true).then(function (r) {
      if (S.view !== 'signature-loading') { return; }
      var why = r && r.drawn_signatures === false ? 'disabled' : signingGap((r && r.credentials) || []);
      if (why) { signatureUnavailable(why); } else { showSignaturePad(); }
    }, function (err) { refusal(err); });
  }

  // signingGap is '' when creds hold an active signing certificate, or
  // why not: pending (one is waiting to be issued), expired or revoked
  // (the newest one), none.
  function signingGap(creds) {
    var sign = creds.filter(function (c) { return c.purpose === 'sign'; });
    if (sign.some(function (c) { return c.state === 'active'; })) { return ''; }
    if (sign.some(function (c) { return c.state === 'pending'; })) { return 'pending'; }
    var last = sign.filter(function (c) { return c.state === 'expired' || c.state === 'revoked'; }).sort(function (a, b) {
      return String(b.created_at || '').localeCompare(String(a.created_at || ''));
    })[0];
    return last ? last.state : 'none';
  }

  // signatureUnavailable takes the pad's place: why is disabled (the
  // operator's policy: nothing the user can do here but ask the
  // provider), or signingGap's reason (the way on is the certificates
  // page).
  function signatureUnavailable(why) {
    var off = why === 'disabled';
    screen('signature-unavailable', function () {
      return h('div', topbar(t('signTitle'), showMe),
        h('section.outcome', { 'data-t': 'sign-unavailable', 'data-reason': why },
          h('div.badge.warn', icon(off ? 'lock' : why === 'pending' ? 'clock' : 'cert')),
          h('h2', { text: t(off ? 'title_drawn_seal_disabled' : why === 'pending' ? 'title_sign_pending' : 'title_no_signing_credential') }),
          h('p', { 'data-t': 'message', text: t(off ? 'signDisabled' : 'signNoCred_' + why) })));
    }, { actions: function () {
      return h('div.actions', off ? h('button.btn.btn-primary', { type: 'button', 'data-t': 'done', on: { click: showMe } }, t('back')) :
        h('button.btn.btn-primary', { type: 'button', 'data-t': 'to-certs', on: { click: showCerts } }, t('signToCerts')));
    } });
  }

  function showSignaturePad() {
    var strokes = [];
    var current = null;
    var pad = h('canvas.sign-pad', { 'data-t': 'sign-pad', role: 'img', 'aria-label': t('signPadLabel') });
    var msg = h('p.sign-msg', { 'data-t': 'sign-message', role: 'status', 'aria-live': 'polite' });
    var undo = h('button.btn.btn-secondary', { type: 'button', 'data-t': 'sign-undo', disabled: true, on: { click: function () { strokes.pop(); redraw(); } } }, t('signUndo'));
    var wipe = h('button.btn.btn-secondary', { type: 'button', 'data-t': 'sign-clear', disabled: true, on: { click: function () { strokes = []; redraw(); } } }, t('signClear'));
    var save = h('button.btn.btn-primary', { type: 'button', 'data-t': 'sign-save', disabled: true, on: { click: submit } }, t('signSave'));
    screen('signature', function () {
      // Built again on a language switch: the drawing stays, the kept
      // buttons' labels follow.
      pad.setAttribute('aria-label', t('signPadLabel'));
      undo.textContent = t('signUndo');
      wipe.textContent = t('signClear');
      save.textContent = t('signSave');
      return h('div', topbar(t('signTitle'), showMe),
        h('div.section', h('div.card', h('p', { text: t('signLead') }), h('div.sign-wrap', pad), msg, h('div.sign-tools', undo, wipe))));
    }, { actions: h('div.actions', save) });

    var ctx = pad.getContext('2d');
    function fit() {
      var r = pad.getBoundingClientRect();
      var dpr = window.devicePixelRatio || 1;
      pad.width = Math.round(r.width * dpr);
      pad.height = Math.round(r.height * dpr);
      redraw();
    }
    function redraw() {
      var dpr = pad.width / (pad.getBoundingClientRect().width || 1);
      ctx.clearRect(0, 0, pad.width, pad.height);
      drawStrokes(ctx, strokes, dpr, 0, 0);
      var empty = !strokes.length;
      undo.disabled = wipe.disabled = save.disabled = empty;
      pad.setAttribute('data-strokes', String(strokes.length));
    }
    function at(e) {
      var r = pad.getBoundingClientRect();
      return [e.clientX - r.left, e.clientY - r.top];
    }
    pad.addEventListener('pointerdown', function (e) {
      if (current) { return; }
      e.preventDefault();
      pad.setPointerCapture(e.pointerId);
      current = { id: e.pointerId, pts: [at(e)] };
      strokes.push(current.pts);
      msg.textContent = '';
      redraw();
    });
    pad.addEventListener('pointermove', function (e) {
      if (!current || e.pointerId !== current.id) { return; }
      e.preventDefault();
      var evs = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
      (evs.length ? evs : [e]).forEach(function (ev) { current.pts.push(at(ev)); });
      redraw();
    });
    function end(e) {
      if (!current || e.pointerId !== current.id) { return; }
      current = null;
      redraw();
    }
    pad.addEventListener('pointerup', end);
    pad.addEventListener('pointercancel', end);
    fit();
    window.addEventListener('resize', function onResize() {
      if (S.view !== 'signature') { window.removeEventListener('resize', onResize); return; }
      fit();
    });

    function submit() {
      if (!strokes.length) { msg.textContent = t('signEmpty'); return; }
      save.disabled = true;
      trimmedPNG(strokes).then(function (buf) {
        return api('POST', '/v1/me/seals', { image_png: b64(buf) }, true).then(function (sl) {
          var url = URL.createObjectURL(new Blob([buf], { type: 'image/png' }));
          screen('signature-saved', function () {
            return h('div', brandbar(), h('section.outcome', { 'data-t': 'outcome', 'data-kind': 'ok' },
              h('div.badge.ok', icon('check')),
              h('h1', { text: t('signSavedTitle') }),
              h('img.sign-saved', { src: url, alt: t('signRow'), 'data-t': 'sign-saved' }),
              h('p', { 'data-t': 'message', text: t('signSavedLead', { id: sl.id }) })));
          }, { actions: function () { return h('div.actions', h('button.btn.btn-primary', { type: 'button', 'data-t': 'done', on: { click: showMe } }, t('done'))); } });
        });
      }).catch(function (err) {
        if (err && (err.code === 'drawn_seal_disabled' || err.code === 'seal_limit' || err.code === 'no_signing_credential')) {
          // Without a signing certificate the way on is the certificates
          // page (request one; an expired or revoked one is not renewed).
          var toCerts = err.code === 'no_signing_credential';
          outcome('refused', 'warn', 'alert', tx('title_' + err.code), function () { return errText(err); }, function () {
            return [toCerts ? h('button.btn.btn-primary', { type: 'button', 'data-t': 'to-certs', on: { click: showCerts } }, t('signToCerts')) : null,
              h('button.btn' + (toCerts ? '.btn-secondary' : '.btn-primary'), { type: 'button', 'data-t': 'done', on: { click: showMe } }, t('done'))];
          });
          document.body.setAttribute('data-error', err.code);
          return;
        }
        save.disabled = false;
        msg.textContent = err instanceof ApiError ? errText(err) : t('err_generic', { code: 'png' });
      });
    }
  }

  function showLost() {
    screen('lost', function () {
      return h('div', topbar(t('lostTitle'), showMe),
        h('div.section', h('div.card',
          h('p', { text: t('lostP1') }),
          h('p.notice', h('span', { text: t('deviceId') + ' ' }), h('strong.mono', { 'data-t': 'device-id', text: S.device.deviceId })),
          h('p', { text: t('lostP2') }),
          h('p', { text: t('lostP3') }),
          h('p', { 'data-t': 'lost-cosign', text: t('lostCosign') }))));
    }, { tab: 'me' });
  }

  // My data: GET /v1/me/data, saved as a file, with a summary.
  function showMyData() {
    var summary = h('div', { 'data-t': 'data-summary' });
    var got = null; // the answer, kept: a language switch draws it again
    screen('my-data', function () {
      fill();
      return h('div', topbar(t('myData'), showMe),
        h('div.section',
          h('div.card', h('p', { text: t('myDataLead') }),
            h('button.btn.btn-primary.btn-block', { type: 'button', 'data-t': 'download-data', on: { click: download } }, t('downloadData'))),
          summary));
    }, { tab: 'me' });
    function download() {
      api('GET', '/v1/me/data', undefined, true).then(function (data) {
        var file = 'ukeygate-my-data-' + fmtDate(new Date()) + '.json';
        var url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
        var a = h('a', { href: url, download: file, 'data-t': 'data-file' });
        document.body.appendChild(a);
        a.click();
        a.parentNode.removeChild(a);
        setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
        got = data;
        fill();
        toast(t('dataReady', { file: file }));
      }, function (err) { refusal(err); });
    }
    function fill() {
      if (!got) { return; }
      var data = got;
      clear(summary);
      var u = data.user || {};
      var kv = h('dl.kv',
        h('dt', { text: t('dataName') }), h('dd', { 'data-t': 'data-name', text: u.name || '' }),
        h('dt', { text: t('userId') }), h('dd.mono', { text: u.id || '' }));
      ['devices', 'credentials', 'seals', 'delegations', 'sessions', 'audit'].forEach(function (k) {
        append(kv, [h('dt', { text: t('dataCount_' + k) }), h('dd', { 'data-t': 'data-count-' + k, text: String((data[k] || []).length) })]);
      });
      append(summary, [h('h2.section-title', { text: t('dataSummary') }), h('div.card', kv)]);
    }
  }

  // Account deletion: a clear warning, a check, then the PIN.
  function showDeleteAccount() {
    var check = h('input', { type: 'checkbox', id: 'delete-understand', 'data-t': 'delete-understand' });
    var go = h('button.btn.btn-destroy', { type: 'button', 'data-t': 'delete-go', disabled: true, on: { click: askPin } }, t('deleteGo'));
    check.addEventListener('change', function () { go.disabled = !check.checked; });
    screen('delete-account', function () {
      go.textContent = t('deleteGo');
      return h('div', topbar(t('deleteAccount'), showMe),
        h('div.section',
          h('div.card.card-danger', { 'data-t': 'delete-warning' },
            h('h2.danger-title', icon('alert'), h('span', { text: t('deleteWarnTitle') })),
            h('ul.warn-list', h('li', { text: t('deleteWarn1') }), h('li', { text: t('deleteWarn2') }), h('li', { text: t('deleteWarn3') }))),
          h('p.keep-note.muted.small', { 'data-t': 'delete-keep', text: t('deleteKeep') }),
          h('label.check-row', { 'for': 'delete-understand' }, check, h('span', { text: t('deleteUnderstand') })),
          h('div.danger-actions', go)));
    }, { tab: 'me' });
    function askPin(msg) {
      pinSheet({
        title: tx('deletePinTitle'), lead: tx('deletePinLead'), message: typeof msg === 'string' || typeof msg === 'function' ? msg : '', dismissible: true, onCancel: showDeleteAccount,
        onSubmit: function (pin) {
          return api('DELETE', '/v1/me', { pin: pin }, true).then(function (res) {
            closeSheet();
            return forgetDevice().then(function () {
              S.device = null;
              outcome('account-deleted', 'ok', 'check', tx('deletedTitle'), tx('deletedLead', { n: (res.revoked || []).length }), function () {
                return h('button.btn.btn-primary', { type: 'button', 'data-t': 'done', on: { click: showStart } }, t('done'));
              });
            });
          }, function (err) {
            if (err.code === 'wrong_pin') {
              askPin(err.remaining === 1 ? tx('wrongPinLast') : tx('wrongPin', { n: err.remaining }));
              return null;
            }
            closeSheet();
            refusal(err);
            return null;
          });
        }
      });
    }
  }

  function showChangePIN() {
    var oldPin = '';
    screen('change-pin', function () { return h('div', topbar(t('changePin'), showMe)); }, { tab: 'me' });
    askOld();
    function askOld(msg) {
      pinSheet({
        title: tx('pinOld'), lead: tx('pinOldLead'), message: msg, dismissible: true, onCancel: showMe,
        onSubmit: function (pin) { oldPin = pin; askNew(); return Promise.resolve(); }
      });
    }
    function askNew(msg) {
      pinSheet({
        title: tx('pinNew'), lead: tx('pinNewLead'), rules: true, message: msg, dismissible: true, onCancel: function () { oldPin = ''; showMe(); },
        onSubmit: function (pin) { askAgain(pin); return Promise.resolve(); }
      });
    }
    function askAgain(first) {
      pinSheet({
        title: tx('pinNewAgain'), repeat: true, dismissible: true, onCancel: function () { oldPin = ''; showMe(); },
        onSubmit: function (pin) {
          if (pin !== first) { first = ''; askNew(tx('pinMismatch')); return Promise.resolve(); }
          var body = { old_pin: oldPin, new_pin: pin };
          oldPin = '';
          first = '';
          // Cosign credentials held here are re-shared with the new PIN;
          // their new seeds are kept aside (pending) before the change is
          // sent, and become the seeds once the gateway took it.
          var sentAt = Date.now() + skewMs, staged = null, sent = false;
          // (A two-party credential whose request's answer was lost is
          // settled first: its seed must be re-shared too.)
          var rs = CO ? CO.settleNew(S.device.deviceId).catch(function () {}).then(function () {
            return CO.reshare(body.old_pin, body.new_pin, sentAt);
          }) : Promise.resolve(null);
          var req = rs.then(function (r) {
            staged = r;
            if (r && r.cosign) { body.cosign = r.cosign; }
            return api('PUT', '/v1/me/pin', body, true);
          }).then(function () {
            sent = true;
            body.old_pin = body.new_pin = '';
            // (If keeping the seeds fails, they stay pending: the next
            // start settles them from the history.)
            return Promise.resolve(staged && staged.commit()).catch(function () {});
          });
          return req.then(function () {
            closeSheet();
            outcome('pin-changed', 'ok', 'check', tx('pinChanged'), tx('pinChangedLead'), doneToMe);
          }, function (err) {
            body.old_pin = body.new_pin = '';
            // The answer lost: the gateway may have changed the PIN (and
            // the two-party shares); the pending seeds stay until the
            // history tells.
            if (err.code === 'network') {
              closeSheet();
              pinUnsure(sentAt);
              return null;
            }
            // Refused (or not sent): the gateway changed nothing.
            return Promise.resolve(!sent && staged && staged.drop()).catch(function () {}).then(function () { return changeRefused(err); });
          });
        }
      });
    }
    function changeRefused(err) {
      if (err.code === 'wrong_pin') {
        askOld(err.remaining === 1 ? tx('wrongPinLast') : tx('wrongPin', { n: err.remaining }));
        return null;
      }
      if (err.code === 'weak_pin') { askNew(function () { return errText(err); }); return null; }
      closeSheet();
      refusal(err);
      return null;
    }
  }

  // pinChangeTaken asks the history whether a PIN change sent at sentAt
  // (gateway clock, ms) was taken: a pin.change that succeeded since
  // (a minute's slack for the clocks). Resolves true or false; rejects
  // when the gateway cannot be asked.
  function pinChangeTaken(sentAt) {
    return api('GET', '/v1/me/history?limit=100', undefined, true).then(function (r) {
      return (r.entries || []).some(function (e) {
        return e.action === 'pin.change' && e.outcome === 'ok' && Date.parse(e.time) >= sentAt - 60000;
      });
    });
  }

  // settlePINChange ends a PIN change of unknown outcome: the pending
  // two-party seeds become the seeds if it was taken, else are dropped.
  function settlePINChange(sentAt) {
    return pinChangeTaken(sentAt).then(function (taken) {
      return (CO ? CO.settle(taken) : Promise.resolve()).then(function () { return taken; });
    });
  }

  // settlePending settles a PIN change of unknown outcome, if there is
  // one, then two-party credential requests whose answer was lost (the
  // kept seed goes to the credential the gateway made, cosign.js
  // settleNew); quietly: when the gateway cannot be asked, they stay
  // pending.
  function settlePending() {
    if (!S.device || !CO) { return Promise.resolve(); }
    return CO.pendingSince().then(function (since) {
      return since ? settlePINChange(since) : null;
    }).catch(function () { /* offline: settled later */ }).then(function () {
      return CO.settleNew(S.device.deviceId);
    }).catch(function () { /* offline: settled later */ });
  }

  // pinUnsure: the PIN change's answer was lost.
  function pinUnsure(sentAt) {
    function check() {
      settlePINChange(sentAt).then(function (taken) {
        if (taken) {
          outcome('pin-changed', 'ok', 'check', tx('pinChanged'), tx('pinChangedLead'), doneToMe);
        } else {
          outcome('pin-not-changed', 'info', 'alert', tx('pinNotChanged'), tx('pinNotChangedLead'), doneToMe);
        }
      }, function (err) { toast(errText(err)); });
    }
    outcome('pin-unsure', 'warn', 'alert', tx('pinUnsureTitle'), tx('pinUnsureLead'), function () {
      return [h('button.btn.btn-secondary', { type: 'button', 'data-t': 'done', on: { click: showStart } }, t('home')),
        h('button.btn.btn-primary', { type: 'button', 'data-t': 'pin-check', on: { click: check } }, t('pinCheck'))];
    });
  }

  // doneToMe is a result screen's one button, back to Me.
  function doneToMe() {
    return h('button.btn.btn-primary', { type: 'button', 'data-t': 'done', on: { click: showMe } }, t('done'));
  }

  // ---------------------------------------------------------------------
  // Self-registration: kind -> form with the privacy policy and consent ->
  // POST /v1/register -> status (GET /v1/register/{id}). The request's id
  // (the applicant's handle) is kept in IndexedDB beside the device, so the
  // status survives a reload; it is forgotten once the phone is enrolled.
  // ---------------------------------------------------------------------
  ICONS.org = 'M3 21V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v5h5a1 1 0 0 1 1 1v11h1v2H1v-2h2zm2 0h4v-4h2v4h2V5H5v16zm10 0h4V11h-4v10zM7 7h2v2H7V7zm0 4h2v2H7v-2zm4-4h2v2h-2V7zm0 4h2v2h-2v-2zm6 2h2v2h-2v-2zm0 4h2v2h-2v-2z';
  var REG_KEY = 'registration:' + (ROOT || '/');
  function loadRegistration() { return dbDo('readonly', function (s) { return s.get(REG_KEY); }); }
  function saveRegistration(r) { return dbDo('readwrite', function (s) { return s.put(r, REG_KEY); }); }
  function forgetRegistration() {
    S.registration = null;
    return dbDo('readwrite', function (s) { return s.delete(REG_KEY); });
  }

  // idNumberCheck: GB 11643 (17 digits, weights 2^(17-i) mod 11, the
  // check character 0-9 or X). '' while it cannot tell yet.
  function idNumberCheck(s) {
    s = String(s || '').trim().toUpperCase();
    if (s.length < 18) { return /^\d*$/.test(s) ? '' : 'shape'; }
    if (!/^\d{17}[\dX]$/.test(s)) { return 'shape'; }
    var w = 1, weights = [], sum = 0, i;
    for (i = 16; i >= 0; i--) { w = w * 2 % 11; weights[i] = w; }
    for (i = 0; i < 17; i++) { sum += (s.charCodeAt(i) - 48) * weights[i]; }
    var c = (12 - sum % 11) % 11;
    return s[17] === (c === 10 ? 'X' : String(c)) ? 'ok' : 'checksum';
  }

  // creditCodeCheck: GB 32100 (18 of 0-9 A-Y without I O S V Z, weights
  // 3^i mod 31, the check character last).
  var CREDIT_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
  function creditCodeCheck(s) {
    s = String(s || '').trim().toUpperCase();
    for (var i = 0; i < s.length; i++) { if (CREDIT_ALPHABET.indexOf(s[i]) < 0) { return 'shape'; } }
    if (s.length < 18) { return ''; }
    if (s.length > 18) { return 'shape'; }
    var sum = 0, w = 1;
    for (i = 0; i < 17; i++) { sum += CREDIT_ALPHABET.indexOf(s[i]) * w; w = w * 3 % 31; }
    return s[17] === CREDIT_ALPHABET[(31 - sum % 31) % 31] ? 'ok' : 'checksum';
  }

  function fetchPolicy() {
    return api('GET', '/v1/register/policy', undefined, false).then(function (p) { S.regPolicy = p; return p; });
  }

  // policyHref: the full policy's address, when it is one the app may link
  // (a path on the gateway, or http(s)).
  function policyHref(u) {
    if (!u) { return ''; }
    if (/^\/[^/\\]/.test(u)) { return ROOT + u; }
    return /^https?:\/\//i.test(u) ? u : '';
  }

  // form is a set of labelled fields with their hints and errors (the
  // client's checks, then the server's answer, which decides), shared by
  // the registration and the correction forms. values: the typed values
  // (kept across re-renders).
  function form(values) {
    var f = { inputs: {}, errs: {}, checks: {} };
    f.field = function (name, label, o) {
      o = o || {};
      var id = 'f-' + name.replace(/_/g, '-');
      var described = (o.hint ? id + '-hint ' : '') + id + '-err';
      var input = h('input', {
        id: id, name: name, type: o.type || 'text', autocomplete: o.autocomplete || 'off', inputmode: o.inputmode || null,
        maxlength: String(o.max || 64), 'data-t': 'reg-' + name.replace(/_/g, '-'), 'aria-describedby': described,
        autocapitalize: o.caps ? 'characters' : null, spellcheck: 'false', value: values[name] || ''
      });
      var err = h('p.field-error', { id: id + '-err', 'data-t': 'err-' + name, 'aria-live': 'polite' });
      f.inputs[name] = input;
      f.errs[name] = err;
      if (o.check) { f.checks[name] = o.check; }
      input.addEventListener('input', function () {
        values[name] = input.value;
        f.clear(name);
        if (o.check) { o.check(input.value, false); }
      });
      input.addEventListener('blur', function () { if (o.check) { o.check(input.value, true); } });
      return h('div.field', h('label', { for: id, text: label }), input,
        o.hint ? h('div.hint', { id: id + '-hint', text: o.hint }) : null, err);
    };
    // set shows text beside the field: kind 'bad' (an error, from the
    // client or the server) or 'ok'.
    f.set = function (name, text, source, kind) {
      var e = f.errs[name];
      if (!e) { return false; }
      e.textContent = text;
      e.className = 'field-error' + (kind === 'ok' ? ' ok' : '');
      e.setAttribute('data-source', source);
      if (f.inputs[name]) {
        if (kind === 'ok') { f.inputs[name].removeAttribute('aria-invalid'); } else { f.inputs[name].setAttribute('aria-invalid', 'true'); }
      }
      return true;
    };
    f.clear = function (name) {
      var e = f.errs[name];
      if (!e) { return; }
      e.textContent = '';
      e.removeAttribute('data-source');
      if (f.inputs[name]) { f.inputs[name].removeAttribute('aria-invalid'); }
    };
    // server shows an API refusal beside its field (the code's sentence,
    // Chinese first as everywhere), or answers false when it names none.
    f.server = function (err, fieldOf) {
      var name = (fieldOf && fieldOf[err.code]) || err.field || '';
      if (!f.errs[name]) { return false; }
      var text = err.code !== 'invalid_request' && TEXT[LANG]['err_' + err.code] ? t('err_' + err.code) :
        t('fieldBad') + (LANG === 'en' && err.message ? ' (' + err.message + ')' : '');
      f.set(name, text, 'server', 'bad');
      var input = f.inputs[name];
      if (input && input.type !== 'file' && input.type !== 'checkbox') { input.focus(); }
      if (f.errs[name].scrollIntoView) { f.errs[name].scrollIntoView({ block: 'center' }); }
      return true;
    };
    return f;
  }

  function checker(f, name, check, shapeKey, sumKey) {
    return function (v, final) {
      var r = check(v);
      if (r === 'ok') { f.set(name, t('hintChecksumOk'), 'client', 'ok'); } else if (r === 'checksum') {
        f.set(name, t(sumKey), 'client', 'bad');
      } else if (r === 'shape' && (final || String(v).trim().length >= 18)) {
        f.set(name, t(shapeKey), 'client', 'bad');
      } else if (final || r === '') { f.clear(name); }
    };
  }

  // REG is the registration being typed: kept while the app runs (and
  // refilled from the stored request to correct a rejected one).
  var REG = { kind: '', fields: {}, licence: null, consent: false };

  function showRegister() {
    screen('register', function () {
      function kindRow(kind, ic, title, sub) {
        return h('li', h('button.row', { type: 'button', 'data-t': 'reg-kind-' + kind, on: { click: function () { showRegisterForm(kind); } } },
          h('span.row-icon', icon(ic)), h('span.row-main', h('span.row-title', { text: t(title) }), h('span.row-sub', { text: t(sub) })), icon('chev', 'chev')));
      }
      return h('div', topbar(t('regTitle'), showWelcome),
        h('div.section', h('p.page-lead', { text: t('regKindLead') }),
          h('ul.list', kindRow('person', 'user', 'regPerson', 'regPersonSub'), kindRow('organization', 'org', 'regOrg', 'regOrgSub'))));
    });
  }

  function showRegisterForm(kind) {
    if (REG.kind !== kind) { REG = { kind: kind, fields: {}, licence: null, consent: false }; }
    if (!S.regPolicy) {
      loadingScreen('register-loading', tx('loading'));
      fetchPolicy().then(function () { showRegisterForm(kind); }, function (err) { refusal(err); });
      return;
    }
    var pol = S.regPolicy;
    var org = kind === 'organization';
    var F = REG.fields;
    var f = form(F);
    var consent = h('input', { type: 'checkbox', id: 'reg-consent', 'data-t': 'reg-consent', 'aria-describedby': 'f-consent-err' });
    consent.checked = !!REG.consent;
    var submit = h('button.btn.btn-primary', { type: 'button', 'data-t': 'reg-submit', disabled: !REG.consent, on: { click: send } }, t('regSubmit'));
    consent.addEventListener('change', function () {
      REG.consent = consent.checked;
      submit.disabled = !consent.checked;
      f.clear('consent');
    });
    var formAlert = h('div.alert', { role: 'alert', 'data-t': 'reg-error' });
    var preview = h('div.licence-preview', { 'data-t': 'reg-licence-preview' });
    var pickLabel = h('span', { text: '' });
    var fileInput = h('input.file-input', { id: 'f-licence-png', type: 'file', accept: 'image/png,image/jpeg', 'data-t': 'reg-licence', 'aria-describedby': 'f-licence-png-hint f-licence-png-err' });
    f.inputs.licence_png = fileInput;
    f.errs.licence_png = h('p.field-error', { id: 'f-licence-png-err', 'data-t': 'err-licence_png', 'aria-live': 'polite' });
    f.errs.consent = h('p.field-error', { id: 'f-consent-err', 'data-t': 'err-consent', 'aria-live': 'polite' });
    function drawLicence() {
      clear(preview);
      var l = REG.licence;
      pickLabel.textContent = l ? t('regLicenceChange') : t('regLicencePick');
      if (l) {
        append(preview, [h('img', { src: l.url, alt: t('regLicencePreview', { name: l.name }), 'data-t': 'reg-licence-img' }),
          h('p.muted.small', { 'data-t': 'reg-licence-info', text: l.name + ' · ' + l.w + '×' + l.h + ' · ' + fmtSize(l.size) })]);
      }
    }
    fileInput.addEventListener('change', function () {
      var file = fileInput.files && fileInput.files[0];
      if (!file) { return; }
      f.clear('licence_png');
      readLicence(file).then(function (l) {
        if (REG.licence) { URL.revokeObjectURL(REG.licence.url); }
        REG.licence = l;
        drawLicence();
      }, function (msg) {
        f.set('licence_png', typeof msg === 'string' ? msg : t('regLicenceBroken'), 'client', 'bad');
      });
    });
    var href = policyHref(pol.policy_url);
    screen('register-' + (org ? 'organization' : 'person'), function () {
      drawLicence();
      submit.textContent = t('regSubmit');
      var fields = org ? [
        f.field('name', t('regOrgName'), { hint: t('regOrgNameHint'), autocomplete: 'organization', max: 200 }),
        f.field('credit_code', t('regCreditCode'), { hint: t('regCreditCodeHint'), caps: true, max: 18,
          check: checker(f, 'credit_code', creditCodeCheck, 'hintCreditShape', 'hintCreditChecksum') }),
        f.field('legal_rep', t('regLegalRep'), { hint: t('regLegalRepHint'), autocomplete: 'name', max: 200 }),
        f.field('phone', t('regOrgPhone'), { hint: t('regPhoneHint'), type: 'tel', inputmode: 'tel', autocomplete: 'tel', max: 32 }),
        h('div.field', h('span.field-label', { id: 'f-licence-png-label', text: t('regLicence') }),
          h('label.licence-pick', { for: 'f-licence-png', 'data-t': 'reg-licence-pick' }, fileInput, icon('doc'), pickLabel),
          h('div.hint', { id: 'f-licence-png-hint', text: t('regLicenceHint', { size: fmtSize(pol.max_licence_bytes || 512 * 1024) }) }),
          f.errs.licence_png, preview)
      ] : [
        f.field('name', t('regName'), { autocomplete: 'name', max: 200 }),
        f.field('id_number', t('regIDNumber'), { hint: t('regIDNumberHint'), caps: true, max: 18,
          check: checker(f, 'id_number', idNumberCheck, 'hintIDShape', 'hintIDChecksum') }),
        f.field('phone', t('regPhone'), { hint: t('regPhoneHint'), type: 'tel', inputmode: 'tel', autocomplete: 'tel', max: 32 })
      ];
      return h('div', topbar(t(org ? 'regOrgTitle' : 'regPersonTitle'), showRegister),
        h('div.section', fields,
          h('section.card.policy', { 'data-t': 'reg-policy', 'data-version': pol.policy_version, 'aria-labelledby': 'policy-title' },
            h('div.req-head', h('h2', { id: 'policy-title', text: t('policyTitle') }), h('span.chip.grey', { 'data-t': 'policy-version', text: t('policyVersion', { v: pol.policy_version }) })),
            h('ul.policy-list', ['policy1', 'policy2', 'policy3', 'policy4', 'policy5'].map(function (k) { return h('li', { text: t(k) }); })),
            href ? h('a.btn-link.policy-link', { href: href, target: '_blank', rel: 'noopener noreferrer', 'data-t': 'policy-link' }, t('policyRead')) : null),
          h('label.check-row.consent-row', { for: 'reg-consent' }, consent, h('span', { text: t('consent', { v: pol.policy_version }) })),
          f.errs.consent,
          formAlert));
    }, { actions: h('div.actions', submit) });
    Object.keys(f.checks).forEach(function (n) { if (F[n]) { f.checks[n](F[n], true); } });

    function send() {
      if (!consent.checked) { return; }
      formAlert.textContent = '';
      var need = org ? ['name', 'credit_code', 'phone'] : ['name', 'id_number', 'phone'];
      var first = null;
      need.forEach(function (n) {
        if (!String(F[n] || '').trim()) { f.set(n, t('regRequired'), 'client', 'bad'); first = first || f.inputs[n]; }
      });
      if (org && !REG.licence) { f.set('licence_png', t('regLicenceNeeded'), 'client', 'bad'); first = first || fileInput; }
      if (first) {
        if (first.type === 'file') { f.errs.licence_png.scrollIntoView({ block: 'center' }); } else { first.focus(); }
        return;
      }
      var fields = { name: F.name.trim(), phone: F.phone.trim() };
      var body = { kind: kind, name: fields.name, phone: fields.phone, consent: { policy_version: pol.policy_version } };
      if (org) {
        body.credit_code = fields.credit_code = F.credit_code.trim().toUpperCase();
        if (String(F.legal_rep || '').trim()) { body.legal_rep = fields.legal_rep = F.legal_rep.trim(); }
        body.licence_png = REG.licence.b64;
      } else {
        body.id_number = fields.id_number = F.id_number.trim().toUpperCase();
      }
      submit.disabled = true;
      submit.textContent = t('regSending');
      api('POST', '/v1/register', body, false).then(function (res) {
        var rec = { id: res.id, kind: kind, state: res.state, fields: fields, createdAt: new Date(Date.now() + skewMs).toISOString() };
        return saveRegistration(rec).then(function () {
          S.registration = rec;
          if (REG.licence) { URL.revokeObjectURL(REG.licence.url); }
          REG = { kind: '', fields: {}, licence: null, consent: false };
          showRegStatus();
        });
      }, function (err) {
        submit.textContent = t('regSubmit');
        if (err.code === 'policy_version') {
          // A new policy: it is shown again and must be agreed to again.
          REG.consent = false;
          fetchPolicy().then(function () { showRegisterForm(kind); formAlertOf().textContent = t('err_policy_version'); }, function (e) { refusal(e); });
          return;
        }
        submit.disabled = !consent.checked;
        if (!f.server(err, { invalid_id_number: 'id_number', invalid_credit_code: 'credit_code', invalid_licence: 'licence_png', 'consent.policy_version': 'consent' })) {
          formAlert.textContent = errText(err);
        }
        document.body.setAttribute('data-error', err.code || '');
      });
    }
    function formAlertOf() { return document.querySelector('[data-t=reg-error]') || formAlert; }
  }

  // readLicence checks a picked picture before anything is sent: size
  // within the gateway's limit, a PNG or JPEG by its first bytes (not by
  // its name), a picture the browser can decode, within the pixel limit.
  function readLicence(file) {
    var max = (S.regPolicy && S.regPolicy.max_licence_bytes) || 512 * 1024;
    var maxPx = (S.regPolicy && S.regPolicy.max_licence_pixels) || 16000000;
    if (file.size > max) { return Promise.reject(t('regLicenceSize', { size: fmtSize(file.size), max: fmtSize(max) })); }
    return file.arrayBuffer().then(function (buf) {
      var b = new Uint8Array(buf);
      var png = b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
      var jpeg = b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
      if (!png && !jpeg) { throw t('regLicenceType'); }
      var url = URL.createObjectURL(new Blob([buf], { type: png ? 'image/png' : 'image/jpeg' }));
      return new Promise(function (resolve, reject) {
        var img = new Image();
        img.onload = function () {
          var px = img.naturalWidth * img.naturalHeight;
          if (px > maxPx) {
            URL.revokeObjectURL(url);
            reject(t('regLicencePixels', { n: Math.round(px / 1e4), max: Math.round(maxPx / 1e4) }));
            return;
          }
          resolve({ name: file.name, size: file.size, w: img.naturalWidth, h: img.naturalHeight, url: url, b64: b64(buf) });
        };
        img.onerror = function () { URL.revokeObjectURL(url); reject(t('regLicenceBroken')); };
        img.src = url;
      });
    });
  }

  // showRegStatus asks the gateway where the kept request stands.
  function showRegStatus() {
    var r = S.registration;
    if (!r) { showWelcome(); return; }
    loadingScreen('reg-status-loading', tx('loading'));
    api('GET', '/v1/register/' + encodeURIComponent(r.id), undefined, false).then(function (st) {
      r.state = st.state;
      r.reason = st.reason || '';
      r.decidedAt = st.decided_at || '';
      r.createdAt = st.created_at || r.createdAt;
      r.checkedAt = new Date().toISOString();
      saveRegistration(r).catch(function () { /* shown anyway */ });
      drawRegStatus(r, null);
    }, function (err) {
      if (err.code === 'registration_not_found') {
        forgetRegistration().then(function () {
          outcome('reg-gone', 'warn', 'alert', tx('regStatusTitle'), tx('regGone'), function () {
            return h('button.btn.btn-primary', { type: 'button', 'data-t': 'reg-start', on: { click: showRegister } }, t('regStart'));
          });
        });
        return;
      }
      drawRegStatus(r, err);
    });
  }

  function drawRegStatus(r, err) {
    var st = r.state;
    var kind = st === 'approved' ? 'ok' : st === 'rejected' ? 'bad' : 'info';
    var ic = st === 'approved' ? 'check' : st === 'rejected' ? 'alert' : 'clock';
    var key = st === 'approved' ? 'regApproved' : st === 'rejected' ? 'regRejected' : 'regPending';
    // The action bar, made again on a language switch.
    function buttons() {
      var bar = [];
      if (st === 'rejected') {
        bar.push(h('button.btn.btn-primary', { type: 'button', 'data-t': 'reg-again', on: { click: function () {
          REG = { kind: r.kind, fields: Object.assign({}, r.fields || {}), licence: null, consent: false };
          showRegisterForm(r.kind);
        } } }, t('regAgain')));
      } else {
        if (st !== 'approved') {
          bar.push(h('button.btn.btn-secondary', { type: 'button', 'data-t': 'reg-refresh', on: { click: showRegStatus } }, t('regRefresh')));
        }
        bar.push(h('button.btn.btn-primary', { type: 'button', 'data-t': 'reg-enroll', on: { click: function () { showEnrollCode(); } } },
          t(st === 'approved' ? 'regEnterCode' : 'regHaveCode')));
      }
      return h('div.actions', bar);
    }
    var fields = r.fields || {};
    screen('reg-status', function () {
      return h('div', topbar(t('regStatusTitle'), showWelcome),
        h('section.outcome.outcome-compact', { 'data-t': 'reg-state', 'data-state': st },
          h('div.badge.' + kind, icon(ic)),
          h('h2', { text: t(key + 'Title') }),
          h('p', { 'data-t': 'message', text: t(key + 'Lead') })),
        st === 'rejected' && r.reason ? h('div.section', h('div.card.card-reason', { 'data-t': 'reg-reason-card' },
          h('h2', { text: t('regReason') }), h('p', { 'data-t': 'reg-reason', text: r.reason }))) : null,
        h('div.section', h('div.card', h('dl.kv', { 'data-t': 'reg-facts' },
          h('dt', { text: t('regNo') }), h('dd.mono', { 'data-t': 'reg-id', text: r.id }),
          h('dt', { text: t('regKind') }), h('dd', { text: t(r.kind === 'organization' ? 'regOrg' : 'regPerson') }),
          fields.name ? [h('dt', { text: t(r.kind === 'organization' ? 'regOrgName' : 'regName') }), h('dd', { text: fields.name })] : null,
          h('dt', { text: t('state') }), h('dd', h('span.chip' + (kind === 'ok' ? '.ok' : kind === 'bad' ? '.bad' : '.warn'), { text: t('regState_' + st) })),
          h('dt', { text: t('regSubmitted') }), h('dd', { text: r.createdAt ? fmtTime(new Date(r.createdAt), true) : '—' }),
          r.decidedAt ? [h('dt', { text: t('regDecided') }), h('dd', { text: fmtTime(new Date(r.decidedAt), true) })] : null)),
          err ? h('div.alert', { role: 'alert', 'data-t': 'error', text: errText(err) }) : null,
          h('p.center', h('button.btn-link', { type: 'button', 'data-t': 'reg-abandon', on: { click: function () {
            forgetRegistration().then(showWelcome);
          } } }, t('regAbandon')))),
        r.checkedAt ? h('p.footer-note', { text: t('regCheckedAt', { time: fmtTime(new Date(r.checkedAt), true) }) }) : null);
    }, { actions: buttons });
    document.body.setAttribute('data-reg-state', st);
  }

  // Corrections of the user's own personal fields (POST /v1/me/corrections):
  // queued for RA review like a registration.
  function showCorrection() {
    var values = {};
    var f = form(values);
    var formAlert = h('div.alert', { role: 'alert', 'data-t': 'reg-error' });
    var submit = h('button.btn.btn-primary', { type: 'button', 'data-t': 'corr-submit', on: { click: send } }, t('corrSubmit'));
    screen('correction', function () {
      submit.textContent = t('corrSubmit');
      return h('div', topbar(t('corrTitle'), showMe),
        h('div.section', h('p.page-lead', { text: t('corrLead') }),
          f.field('name', t('regName'), { autocomplete: 'name', max: 200 }),
          f.field('id_number', t('regIDNumber'), { hint: t('regIDNumberHint'), caps: true, max: 18,
            check: checker(f, 'id_number', idNumberCheck, 'hintIDShape', 'hintIDChecksum') }),
          f.field('phone', t('regPhone'), { type: 'tel', inputmode: 'tel', autocomplete: 'tel', max: 32 }),
          formAlert));
    }, { actions: h('div.actions', submit) });
    function send() {
      formAlert.textContent = '';
      var body = {};
      ['name', 'id_number', 'phone'].forEach(function (n) {
        var v = String(values[n] || '').trim();
        if (v) { body[n] = n === 'id_number' ? v.toUpperCase() : v; }
      });
      if (!Object.keys(body).length) { formAlert.textContent = t('corrEmpty'); return; }
      submit.disabled = true;
      api('POST', '/v1/me/corrections', body, true).then(function (res) {
        outcome('correction-sent', 'ok', 'check', tx('corrSentTitle'), tx('corrSentLead', { id: res.id }), doneToMe);
      }, function (err) {
        submit.disabled = false;
        if (!f.server(err, { invalid_id_number: 'id_number' })) { formAlert.textContent = errText(err); }
      });
    }
  }

  // ---------------------------------------------------------------------
  // Renewal: the certificates that end within RENEW_DAYS get a banner and
  // a renew button (POST /v1/me/credentials/{id}/renew with the PIN; a new
  // key when the issuer's profile lets the user choose, renewal_key
  // "either").
  // ---------------------------------------------------------------------
  var RENEW_DAYS = 30;
  function daysLeft(c) {
    return Math.ceil((Date.parse(c.not_after) - (Date.now() + skewMs)) / 864e5);
  }
  function issuerOf(id) {
    return (S.issuers || []).filter(function (i) { return i.id === id; })[0] || null;
  }
  // expiringSoon: an active certificate of the user's own ending within
  // RENEW_DAYS; renewable: one the gateway renews (not two-party, no
  // renewal already waiting for an external CA's certificate).
  function expiringSoon(c) {
    if (c.state !== 'active' || !c.not_after || c.on_behalf_of) { return false; }
    var n = daysLeft(c);
    return n > 0 && n <= RENEW_DAYS;
  }
  function renewable(c) {
    return expiringSoon(c) && !(CO && CO.isCosign(c)) && !c.renewal_pending;
  }

  // credRank orders the certificates page: usable ones first.
function credRank(state) {
  switch (state) {
    case 'active': return 0;
    case 'pending': return 1;
    case 'superseded': return 3;
    case 'revoked': case 'expired': return 4;
    default: return 2;
  }
}

function expiryBanner(creds) {
    var soon = creds.filter(expiringSoon);
    if (!soon.length) { return null; }
    return h('section.card.expiry-banner', { 'data-t': 'expiry-banner', 'data-count': String(soon.length), 'aria-labelledby': 'exp-title' },
      h('div.exp-head', icon('clock'), h('h2', { id: 'exp-title', text: soon.length === 1 ? t('expBannerOne') : t('expBannerN', { n: soon.length }) })),
      h('p.small', { text: t('expBannerLead') }),
      soon.map(function (c) {
        var n = daysLeft(c);
        return h('div.exp-row', { 'data-t': 'expiring', 'data-cred': c.id },
          h('span.row-main', h('span.row-title', { text: issuerName(c.issuer) + ' · ' + t('purpose_' + c.purpose) }),
            h('span.row-sub', { text: n <= 1 ? t('expToday') : t('expIn', { date: fmtDate(new Date(c.not_after)), n: n }) }),
            c.renewal_pending ? h('span.row-sub', { 'data-t': 'renewal-pending', text: t('renewalPending') }) : null),
          renewable(c) ? h('button.btn.btn-primary.btn-sm', { type: 'button', 'data-t': 'renew', 'data-cred': c.id,
            'aria-label': t('renew') + ' ' + issuerName(c.issuer) + ' ' + t('purpose_' + c.purpose), on: { click: function () { showRenew(c); } } }, t('renew')) : null);
      }));
  }

  function showRenew(c) {
    var iss = issuerOf(c.issuer);
    var rk = (iss && iss.profile && iss.profile.renewal_key) || 'same';
    var sel = { newKey: rk === 'new' };
    var opts = [];
    screen('renew', function () {
      var n = daysLeft(c);
      opts = rk !== 'either' ? [] : [['same', 'renewSameKey'], ['new', 'renewNewKey']].map(function (o) {
        return h('button.cred-option', { type: 'button', role: 'radio', 'aria-checked': String((o[0] === 'new') === sel.newKey), 'data-t': 'renew-' + o[0],
          on: { click: function () { sel.newKey = o[0] === 'new'; opts.forEach(function (b) { b.setAttribute('aria-checked', String((b.getAttribute('data-t') === 'renew-new') === sel.newKey)); }); } } },
        h('span.radio-dot'), h('span.row-main', h('span.row-title', { text: t(o[1]) }), h('span.row-sub', { text: t(o[1] + 'Sub') })));
      });
      return h('div', topbar(t('renewTitle'), showCerts),
        h('div.section',
          h('div.card', { 'data-t': 'renew-cert' },
            h('div.req-head', h('h2', { text: issuerName(c.issuer) }), h('span.chip.warn', { text: t('expChip') })),
            h('div.chips', h('span.chip', { text: c.alg + (c.rsa_bits ? ' ' + c.rsa_bits : '') }), h('span.chip.grey', { text: t('purpose_' + c.purpose) })),
            h('dl.kv',
              h('dt', { text: t('validity') }), h('dd', { text: t('validTo', { from: fmtDate(new Date(c.not_before)), to: fmtDate(new Date(c.not_after)) }) }),
              h('dt', { text: t('state') }), h('dd', { text: n <= 1 ? t('expToday') : t('expIn', { date: fmtDate(new Date(c.not_after)), n: n }) }),
              c.serial ? [h('dt', { text: t('serial') }), h('dd.mono', { text: c.serial })] : null)),
          h('p.notice', { text: t('renewLead') }),
          opts.length ? [h('h2.section-title', { id: 'renew-key-label', text: t('renewKeyTitle') }),
            h('div', { role: 'radiogroup', 'aria-labelledby': 'renew-key-label' }, opts)] : null,
          rk === 'new' ? h('p.notice.warn', { 'data-t': 'renew-new-key', text: t('renewNewKeyForced') }) : null));
    }, { actions: function () { return h('div.actions', h('button.btn.btn-primary', { type: 'button', 'data-t': 'renew-go', on: { click: askPin } }, t('renewGo'))); } });
    function askPin() {
      pinSheet({
        title: tx('pinTitle'), lead: function () { return t('renewPinLead', { issuer: issuerName(c.issuer), purpose: t('purpose_' + c.purpose) }); }, dismissible: true,
        onSubmit: function (pin) {
          var body = { pin: pin };
          if (rk === 'either' && sel.newKey) { body.new_key = true; }
          pin = '';
          var req = api('POST', '/v1/me/credentials/' + encodeURIComponent(c.id) + '/renew', body, true);
          body.pin = '';
          return req.then(function (res) {
            closeSheet();
            var nc = (res && res.credential) || {};
            // At an external issuer the successor waits for the CA's
            // certificate; the old one stays in use until then.
            var waiting = nc.state === 'pending';
            var newKey = sel.newKey;
            outcome('renewed', waiting ? 'info' : 'ok', waiting ? 'clock' : 'check', tx(waiting ? 'renewSentTitle' : 'renewedTitle'), function () {
              return waiting ? t('renewSentLead') : t('renewedLead', { date: nc.not_after ? fmtDate(new Date(nc.not_after)) : '—' }) + (newKey ? ' ' + t('renewedKeyNew') : '');
            }, function () {
              return h('button.btn.btn-primary', { type: 'button', 'data-t': 'done', on: { click: showCerts } }, t('done'));
            });
          }, function (err) { return pinError(err, true); });
        }
      });
    }
  }

  // ---------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------
  function registerServiceWorker() {
    if (!('serviceWorker' in navigator) || !window.isSecureContext) { return; }
    navigator.serviceWorker.register(ROOT + '/m/sw.js', { scope: ROOT + '/m/' }).catch(function () { /* the app works without it */ });
  }

  // hashCode takes the activation code of an enrollment link
  // (#activate=<code>) from the address: the code leaves the address bar
  // and the history at once. '' when the hash holds none.
  function hashCode() {
    var m = /[#&]activate=([^&]+)/.exec(location.hash);
    if (!m) { return ''; }
    history.replaceState(null, '', location.pathname + location.search);
    var code = m[1];
    try { code = decodeURIComponent(code); } catch (e) { /* kept as it came: the code screen says if it is bad */ }
    return normCode(code);
  }

  // showActivation opens an enrollment link's code: the code screen with
  // the code filled in, or, on a phone already activated, says so.
  function showActivation() {
    if (S.device) {
      S.pendingCode = '';
      outcome('already-enrolled', 'info', 'phone', tx('enrolledTitle'), tx('alreadyEnrolled', { name: S.device.userName }));
    } else {
      E = {};
      showEnrollCode();
    }
  }

  // An enrollment link opened while the app is open in its tab changes
  // the hash only, which loads nothing: the app opens it as it opens a
  // link at start (the code screen's field takes the new code).
  function onHashChange() {
    var code = hashCode();
    if (!code) { return; }
    S.pendingCode = code;
    S.focusOnRender = true;
    showActivation();
  }

  function start() {
    main = document.getElementById('main');
    if (window.ukeygateCosignApp) { CO = window.ukeygateCosignApp({ api: api, dbDo: dbDo, root: ROOT }); }
    applyLang();
    S.pendingCode = hashCode() || S.pendingCode;
    if (!window.isSecureContext) { showUnsupported(true); return; }
    if (!window.crypto || !crypto.subtle || !window.indexedDB) { showUnsupported(false); return; }
    registerServiceWorker();
    loadDevice().then(function (d) {
      S.device = d && d.privateKey && d.deviceId ? d : null;
    }, function () { S.device = null; }).then(function () {
      return S.device ? null : loadRegistration().then(function (r) { S.registration = r && r.id ? r : null; }, function () { S.registration = null; });
    }).then(function () {
      // A PIN change of unknown outcome (its answer lost): settled from
      // the history before any two-party certificate is used.
      return settlePending();
    }).then(function () {
      S.focusOnRender = false;
      if (S.pendingPayload) {
        if (S.device) {
          var p = S.pendingPayload;
          S.pendingPayload = '';
          showSession(p);
        } else {
          showNotEnrolled();
        }
      } else if (S.pendingCode) {
        showActivation();
      } else if (!S.device && S.registration) {
        showRegStatus();
      } else {
        showStart();
      }
      window.addEventListener('hashchange', onHashChange);
      document.body.setAttribute('data-ready', '1');
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
