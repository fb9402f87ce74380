"""The one table of what each error `code` tells the resident: the problem `detail` (API.md conventions).

Every problem response takes its `detail` from here by its code, and the mini-program's screens read the
same table from `GET /api/v1/messages`. Each sentence is short Simplified Chinese in plain words: what
happened and what to do next; values (dates, limits) stay out of it and travel in the problem's own
members (`opens_at`, `available_at`, `reason`, `errors`, `max_links`, `request_id`). A code raised
anywhere in the code base without an entry here fails `tests/core/test_messages.py`.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

MESSAGES: dict[str, str] = {
    # Any status (core/errors.py HTTP_CODES and the fallback).
    "bad_request": "提交的内容不完整，系统无法办理。请返回重新操作；如仍不行，请更新小程序后再试。",
    "unauthorized": "您的登录已经失效，请重新登录。",
    "forbidden": "您没有权限办理这项业务。",
    "not_found": "没有找到相关信息，或者您不能查看。请返回上一页重新选择。",
    "method_not_allowed": "暂时不能这样操作，请更新小程序后再试。",
    "not_acceptable": "暂时无法显示这项内容，请更新小程序后再试。",
    "conflict": "现在不能办理这项业务，请刷新页面后再试。",
    "payload_too_large": "提交的内容太多，请删减后重新提交。",
    "unsupported_media_type": "提交内容的格式不对，系统无法识别，请更新小程序后再试。",
    "invalid_body": "提交的内容有误，系统无法识别，请返回重新提交；如仍不行，请更新小程序后再试。",
    "validation_error": "填写的内容有误，请按提示检查修改后重新提交。",
    "rate_limited": "操作太频繁了，请稍等一会儿再试。",
    "internal_error": "系统出了点问题，请稍后再试。如果一直不行，请联系客服。",
    "service_unavailable": "服务暂时不能使用，请稍后再试。",
    "error": "暂时无法办理，请稍后再试。",
    # Login and real name.
    "invalid_wechat_code": "微信登录没有成功，请关闭小程序后重新打开，再登录一次。",
    "wechat_user_blocked": "这个微信号暂时被限制使用，请按微信的提示处理后再试。",
    "not_verified": "请先完成实名认证，再办理这项业务。",
    "invalid_id_number": "身份证号码不对，请对照身份证逐位核对后重新输入。",
    "face_verification_required": "请先在小程序里完成人脸识别，再提交实名认证。",
    "face_verification_failed": "人脸识别没有通过，或者这次识别的结果已经失效。"
    "请本人用自己的微信重新做一次人脸识别，然后再提交。",
    "identity_mismatch": "姓名和身份证号码对不上，请对照身份证核对后重新输入。",
    "not_enrolled": "没有查到这个人在山西参加城乡居民基本养老保险。请到村（社区）或当地社保经办机构咨询。",
    "already_bound": "这个微信号已经绑定了别人的身份，或者这个人已经绑定了别的微信号。"
    "请用本人的微信办理；有疑问请到当地社保经办机构咨询。",
    # Family links.
    "self_link": "不能关联您自己。请填写要帮忙缴费的家人的姓名和身份证号码。",
    "link_exists": "您已经关联了这位家人，或者正在等对方同意，不用重复添加。",
    "too_many_links": "您关联的家人已经到了上限。请先解除一位家人的关联，再添加新的。",
    # Contributions.
    "window_closed": "现在不在缴费期内。每年1月至6月的1日至25日可以缴费。",
    "invalid_tier": "缴费金额不在可选的档次里，请从列出的档次中选一个。",
    "basic_pension_unpaid": "今年的城乡居民基本养老保险还没有缴费。请先缴基本养老保险，再缴补充养老保险。",
    "already_paid": "这一年已经缴过费了，不用再缴。",
    "order_pending": "这一年已经有一笔缴费在等着付款。请先把那笔付完，或者等它过期后再重新缴费。",
    "registration_updated_today": "您的登记信息今天刚更新过，请明天再来缴费。",
    "back_payment_limit": "补缴的年数超过了规定，请减少补缴的年数。",
    "not_allowed": "按照规定，现在不能办理这笔缴费。有疑问请到村（社区）或当地社保经办机构咨询。",
    "left_province": "社保系统显示参保人已经不在山西参加城乡居民基本养老保险，不能再缴费。"
    "如有疑问，请到当地社保经办机构咨询。",
    "deceased": "参保人已经去世，不能再缴费。家属办理相关手续，请到当地社保经办机构咨询。",
    "idempotency_key_required": "这次提交缺少必要的信息，请更新小程序后再试。",
    "idempotency_key_reused": "这次提交和之前的一次对不上，请返回重新提交。",
    # Certificates.
    "no_payment": "没有查到这一年的缴费记录，还不能开缴费证明。请先缴费。",
    "not_yet_available": "缴费信息还在处理中，缴费后大约5个工作日才能开缴费证明，请到时候再来。",
    "certificate_revoked": "这张缴费证明已经作废了。请重新开这一年的缴费证明。",
    # Counterparts that did not answer.
    "wechat_unavailable": "微信服务暂时连接不上，请稍后再试。",
    "identity_unavailable": "身份核验服务暂时连接不上，请稍后再试。",
    "agency_unavailable": "社保系统暂时连接不上，请稍后再试。",
    "tax_bureau_unavailable": "税务缴费系统暂时连接不上，请稍后再试。",
    "upstream_unavailable": "相关服务暂时连接不上，请稍后再试。",
    "database_unavailable": "系统暂时不能使用，请稍后再试。",
    "not_ready": "系统正在准备中，暂时不能使用，请稍后再试。",
    # Reasons (`normal.reason` of contribution-options, `reason` of not_allowed, `eligibility.reasons`),
    # shown by the screens as they are.
    "paid_by_government": "您属于政府代缴的困难群体，今年的补充养老保险由政府代缴，您不用自己缴费。",
    "not_current_year": "往年的缴费只能按补缴办理，请选择补缴。",
    "current_year": "今年的费用请按正常缴费办理，不用补缴。",
    "future_year": "还没到这一年，现在不能缴这一年的费用。",
    "year_before_scheme": "这一年补充养老保险还没有开始，不能缴费。",
    "over_benefit_age": "这一年年初已满65岁，不能再按年缴费。可以看看能否补缴或一次性缴费。",
    "year_already_paid": "这一年已经缴过费了，不用补缴。",
    "lump_sum_not_eligible": "按照规定，您不能办理一次性缴费。有疑问请到当地社保经办机构咨询。",
    "invalid_years": "一次性缴费至少要缴一年，请重新选择年数。",
    "not_hardship": "您不属于政府代缴的困难群体，请自己缴费或请家人代缴。",
    "under_age": "还没到领取待遇的年龄（65岁），请继续按年缴费。",
    "not_receiving_basic_pension": "还没有领取城乡居民基本养老保险待遇，领取后才能领取补充养老保险待遇。",
    "insufficient_years": "累计缴费年限还不够，请继续缴费或补缴。",
}


def detail(code: str) -> str:
    """The resident's sentence for `code`; a code missing here is logged (and fails the tests)."""
    found = MESSAGES.get(code)
    if found is None:
        log.error("no message for error code %r in core/messages.py", code)
        return MESSAGES["error"]
    return found
